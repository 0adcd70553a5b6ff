"""Run a scenario for real in tests: agent worker processes and the world system."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from scrai.keys import Keys
from scrai.scenario.loader import load_scenario_file
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def default_scenario(ticks: int, *, deadline_s: float = 60.0) -> Scenario:
    """scenarios/default.yml, ticking as fast as the agents answer, for ``ticks`` ticks."""
    scenario = load_scenario_file(ROOT / "scenarios" / "default.yml")
    sim = scenario.simulation.model_copy(
        update={"tick_interval_s": 0.0, "max_ticks": ticks, "tick_deadline_s": deadline_s}
    )
    return scenario.model_copy(update={"simulation": sim})


def start_worker(
    env: dict[str, str], agents: list[str], *, capture: bool = False
) -> subprocess.Popen[str]:
    """A worker process for ``agents`` (``capture``: keep its log for the test to read)."""
    argv = [sys.executable, str(ROOT / "run_agent_worker.py"), "--agents", ",".join(agents)]
    err = subprocess.PIPE if capture else None
    return subprocess.Popen(argv, env=env, cwd=ROOT, stderr=err, text=True)


def start_world(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scrai.world"], env=env, cwd=ROOT, text=True)


def start_reseeded_world(env: dict[str, str]) -> subprocess.Popen[str]:
    """The world, told to start over from the stored scenario."""
    return subprocess.Popen(
        [sys.executable, "-m", "scrai.world", "--reseed"], env=env, cwd=ROOT, text=True
    )


def start_memory(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scrai.memory"], env=env, cwd=ROOT, text=True)


async def alive(redis: aioredis.Redis, keys: Keys, count: int) -> bool:
    return await redis.zcount(keys.agents_alive, time.time(), "+inf") >= count


async def finished(redis: aioredis.Redis, keys: Keys) -> bool:
    return await redis.hget(keys.clock, "state") == "finished"


def stop(*procs: subprocess.Popen[str]) -> list[int]:
    """SIGTERM each process and wait; their exit codes (0: a clean stop between ticks)."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    return [proc.wait(timeout=30) for proc in procs]


async def run(
    redis: aioredis.Redis,
    keys: Keys,
    env: dict[str, str],
    scenario: Scenario,
    groups: list[list[str]],
    *,
    memory: bool = False,
) -> list[dict[str, Any]]:
    """Run ``scenario`` to its last tick with one worker process per group; the committed log.

    ``memory``: also run the memory consolidator, so recall returns memories.
    """
    await save_scenario(redis, keys, scenario)
    workers = [start_worker(env, group) for group in groups]
    if memory:  # the consolidator writes memories the agents recall while they run
        workers.append(start_memory(env))
    world = None
    try:
        # Every agent answers from the first tick on, so the log depends on nothing but the seed.
        await wait_for(lambda: alive(redis, keys, len(scenario.agents)), timeout_s=60)
        world = start_world(env)
        await wait_for(lambda: finished(redis, keys), timeout_s=110, interval_s=0.05)
    finally:
        codes = stop(*workers)
        if world:
            stop(world)  # it has exited on its own after the last tick, or is exiting now
    assert codes == [0] * len(codes), codes  # SIGTERM stops every worker cleanly
    return await committed(redis, keys)


async def committed(redis: aioredis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """The committed actions, as the fields that must match between equal runs."""
    out = []
    for _, fields in await redis.xrange(keys.committed_events):
        if fields["type"] != "world_state_committed":
            continue
        payload = json.loads(fields["payload"])
        out.append(
            {
                "entity_id": fields["entity_id"],
                "sequence": int(fields["sequence"]),
                "tick": int(fields["tick"]),
                "action": payload["action"],
                "after": payload["after"],
                "observers": payload["observers"],
            }
        )
    return out
