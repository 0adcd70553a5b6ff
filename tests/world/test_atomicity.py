"""Crash safety and determinism of the world system, against the real server.

The world runs as its own process and is SIGKILLed at random points while the
test plays 100 agents for 100 ticks (10,000 actions), then restarted each time.
Afterwards the committed log must account for every action exactly once, and the
stored state must equal a replay of the log.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections import Counter, defaultdict

import pytest
from redis.exceptions import ResponseError

from scrai.events import TickEvent, WorldStateCommittedEvent
from scrai.keys import Keys
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from scrai.world.state import WorldReader, load_clock
from tests.helpers import wait_for
from tests.scenarios import crowd
from tests.world.driver import Cast, closed, random_script, read_log, replay, running_world

AGENTS, TICKS, KILLS = 100, 100, 10


async def spawn_world(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scrai.world",
        "--max-ticks",
        str(TICKS),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.chaos
async def test_sigkill_at_random_points_loses_nothing_and_applies_nothing_twice(
    redis, keys, subprocess_env
):
    scenario = crowd(AGENTS, tick_deadline_s=20)
    await save_scenario(redis, keys, scenario)
    cast = Cast(redis, keys, [a.id for a in scenario.agents], random_script(scenario, seed=3))
    rng = random.Random(11)
    total = AGENTS * TICKS
    # Kill points spread over the run (by actions the world has read), each followed by a
    # random delay so the kill lands anywhere: reading, staging, validating, or between
    # sending the tick's transaction and its reply.
    points = sorted(rng.sample(range(total // 20, total - total // 10), KILLS))

    async def progress() -> int:
        try:
            groups = await redis.xinfo_groups(keys.action_events)
        except ResponseError:  # the stream is not there yet
            return 0
        return int(groups[0].get("entries-read") or 0) if groups else 0

    play = asyncio.create_task(cast.play(TICKS, timeout_s=60))
    proc = await spawn_world(subprocess_env)
    kills_at = []
    try:
        for point in points:
            await wait_for(lambda p=point: _at_least(progress, p), timeout_s=60, interval_s=0.001)
            await asyncio.sleep(rng.uniform(0, 0.04))  # chaos timing, not a wait for a condition
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills_at.append((await load_clock(redis, keys)).last_closed)
            proc = await spawn_world(subprocess_env)
        await asyncio.wait_for(play, 90)
        _, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err.decode()[-3000:]
    finally:
        play.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert len(kills_at) == KILLS and kills_at[-1] < TICKS  # every kill hit a live run

    log, rejected = await read_log(redis, keys)
    commits = [e for e in log if isinstance(e, WorldStateCommittedEvent)]
    # every action committed or rejected exactly once
    outcomes = Counter(str(e.payload.action_event_id) for e in [*commits, *rejected])
    assert len(cast.published) == total
    assert outcomes == Counter(str(e.event_id) for e in cast.published)
    assert len(commits) > total // 4  # the script sends many invalid actions on purpose
    # per-agent commit sequences 1..n without gaps, in log order
    per_agent: dict[str, list[int]] = defaultdict(list)
    for e in commits:
        per_agent[e.entity_id].append(e.sequence)
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in per_agent.values())
    # every tick closed once, in order, its commits before its TickEvent
    ticks = [e.tick for e in log if isinstance(e, TickEvent)]
    assert ticks == list(range(1, TICKS + 1))
    current = 1
    for e in log:
        assert e.tick == current
        if isinstance(e, TickEvent):
            current += 1
    # the stored state is the replay of the committed log
    expected = replay(scenario, log)
    reader = WorldReader(redis, keys, scenario)
    agents = await reader.agents()
    top_seq: dict[str, int] = defaultdict(int)
    for e in [*commits, *rejected]:
        top_seq[e.entity_id] = max(top_seq[e.entity_id], _action_seq(e))
    for agent_id, agent in agents.items():
        want = expected[f"agent:{agent_id}"]
        assert (agent.place, agent.commit_seq, agent.last_tick) == (
            want["place"],
            want["commit_seq"],
            want["last_tick"],
        )
        assert agent.action_seq == top_seq[agent_id]
    objects = await reader.objects()
    assert {k: v.state.to_dict() for k, v in objects.items()} == {
        k[7:]: v for k, v in expected.items() if k.startswith("object:")
    }
    group = (await redis.xinfo_groups(keys.action_events))[0]
    assert group["pending"] == 0
    assert await redis.xlen(keys.dead_letter(keys.action_events)) == 0


def _action_seq(event) -> int:
    if isinstance(event, WorldStateCommittedEvent):
        return event.payload.after[f"agent:{event.entity_id}"]["action_seq"]
    return event.sequence


async def _at_least(progress, point: int) -> bool:
    return await progress() >= point


async def test_same_scenario_and_actions_give_the_same_log(redis, settings):
    scenario = crowd(40, tick_deadline_s=20)
    logs = []
    for run in range(2):
        run_settings = Settings(
            **{**settings.model_dump(), "namespace": f"{settings.namespace}{run}"}
        )
        keys = Keys(run_settings.namespace)
        await save_scenario(redis, keys, scenario)
        cast = Cast(redis, keys, [a.id for a in scenario.agents], random_script(scenario, seed=5))
        async with running_world(run_settings):
            await cast.play(25)
            await wait_for(lambda k=keys: closed(redis, k, 25), timeout_s=30)
        log, rejected = await read_log(redis, keys)
        logs.append((_comparable(log), _comparable(rejected)))
    commits = [e for e in logs[0][0] if e[0] != "tick"]
    assert len(commits) + len(logs[0][1]) == 40 * 25 and len(commits) > 250
    assert logs[0] == logs[1]


def _comparable(events) -> list[tuple]:
    out = []
    for e in events:
        if isinstance(e, TickEvent):  # its timing fields differ from run to run
            out.append(("tick", e.tick, e.payload.committed, e.payload.rejected))
        else:
            out.append((str(e.event_id), e.entity_id, e.sequence, e.tick, e.payload.model_dump()))
    return out
