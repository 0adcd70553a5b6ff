"""Agents: rule-brain agent-ticks per CPU-second, and memory per agent.

Everything runs as in a deployment: the world system (``python -m scrai.world``)
and agent workers (``run_agent_worker.py``) as processes on one Redis.

- **multiplexed**: one worker hosts the whole cast of ``--agents-scenario``
  (default ``scenarios/crowd.yml``, 1,052 agents) but one; the figure is agent-ticks
  (actions decided and published) per CPU-second of that worker process, from its
  own ``/proc`` times over the measured ticks, so it reads "per core" whatever else
  the machine runs. The end-to-end rate through the world is printed beside it.
  The last agent runs in a worker of its own, so the RSS difference between the two
  workers, divided by the agents that differ, is the memory one agent costs there.
- **process mode**: ``scenarios/default.yml`` with one worker process per agent;
  memory per agent is the mean RSS of those processes (each hosts one agent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from bench.common import Figure, bench_redis
from scrai.connection import connect
from scrai.keys import Keys
from scrai.scenario.loader import load_scenario_file
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TICK_S = os.sysconf("SC_CLK_TCK")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("agents")
    group.add_argument("--agents-scenario", default=str(ROOT / "scenarios" / "crowd.yml"))
    group.add_argument(
        "--agents-ticks", type=int, default=20, help="measured ticks (after 3 warm-up)"
    )
    group.add_argument(
        "--agents-process-count", type=int, default=10, help="workers in process mode"
    )


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_S  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fast(scenario: Scenario, ticks: int) -> Scenario:
    sim = scenario.simulation.model_copy(
        update={"tick_interval_s": 0.0, "max_ticks": ticks, "tick_deadline_s": 120}
    )
    return scenario.model_copy(update={"simulation": sim})


def worker(env: dict[str, str], ids: list[str]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, str(ROOT / "run_agent_worker.py"), "--agents", ",".join(ids)]
    return subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)


def world(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scrai.world"], env=env, stderr=subprocess.DEVNULL
    )


async def until(cond, timeout_s: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not get there in time")
        await asyncio.sleep(0.01)


async def simulate(url: str, scenario: Scenario, groups: list[list[str]]):  # type: ignore[no-untyped-def]
    """Run ``scenario`` with one worker process per group (an async generator: yields once)."""
    namespace = f"bench-agents-{os.getpid()}-{time.monotonic_ns()}"
    keys = Keys(namespace)
    redis = connect(Settings(redis_url=url, namespace=namespace))
    env = {
        **os.environ,
        "SCRAI_REDIS_URL": url,
        "SCRAI_NAMESPACE": namespace,
        "SCRAI_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await save_scenario(redis, keys, scenario)
        procs = [worker(env, ids) for ids in groups]

        async def alive() -> bool:
            return await redis.zcount(keys.agents_alive, time.time(), "+inf") >= len(
                scenario.agents
            )

        await until(alive)
        procs.append(world(env))
        yield redis, keys, procs, lambda n: _closed(redis, keys, n)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
        await _drop(redis, namespace)
        await redis.aclose()


async def _closed(redis: aioredis.Redis, keys: Keys, n: int) -> bool:
    return int(await redis.hget(keys.clock, "last_closed") or 0) >= n


async def _drop(redis: aioredis.Redis, namespace: str) -> None:
    async for key in redis.scan_iter(match=f"{namespace}:*", count=1000):
        await redis.unlink(key)


async def multiplexed(url: str, path: str, ticks: int) -> list[Figure]:
    warmup = 3
    scenario = fast(load_scenario_file(path), warmup + ticks)
    ids = sorted(a.id for a in scenario.agents)
    figures: list[Figure] = []
    run = simulate(url, scenario, [ids[:-1], ids[-1:]])
    redis, keys, (big, small, world_proc), closed = await run.__anext__()
    try:
        await until(lambda: closed(warmup))
        cpu0, wall0, world0 = cpu_s(big.pid), time.perf_counter(), cpu_s(world_proc.pid)
        actions0 = await redis.xlen(keys.action_events)
        await until(lambda: closed(warmup + ticks))
        cpu, wall = cpu_s(big.pid) - cpu0, time.perf_counter() - wall0
        world_cpu = cpu_s(world_proc.pid) - world0
        actions = await redis.xlen(keys.action_events) - actions0
        per_agent_kb = (rss_mb(big.pid) - rss_mb(small.pid)) * 1024 / (len(ids) - 2)
        n = len(ids) - 1
        figures = [
            Figure(
                f"rule brain, multiplexed ({n} agents/process)",
                actions * n / len(ids) / cpu,
                "agent-ticks/cpu-s",
            ),
            Figure(f"through world + worker ({len(ids)} agents)", actions / wall, "agent-ticks/s"),
            Figure("world system CPU per agent-tick", world_cpu / actions * 1e6, "us"),
            Figure("memory per agent, multiplexed", per_agent_kb, "KiB RSS"),
            Figure("worker RSS, multiplexed", rss_mb(big.pid), "MiB"),
        ]
    finally:
        await run.aclose()
    return figures


async def process_mode(url: str, count: int) -> list[Figure]:
    scenario = fast(load_scenario_file(ROOT / "scenarios" / "default.yml"), 30)
    ids = sorted(a.id for a in scenario.agents)[:count]
    scenario = scenario.model_copy(update={"agents": [a for a in scenario.agents if a.id in ids]})
    run = simulate(url, scenario, [[a] for a in ids])
    _, _, procs, closed = await run.__anext__()
    workers = procs[:-1]
    try:
        await until(lambda: closed(20))
        rss = [rss_mb(p.pid) for p in workers]
    finally:
        await run.aclose()
    return [
        Figure(
            f"memory per agent, process mode ({len(ids)} processes)", sum(rss) / len(rss), "MiB RSS"
        )
    ]


def decisions_only(path: str, ticks: int) -> Figure:
    """The cognitive loop alone (perceive, plan, decide, act, reflect), no I/O, in this process."""
    from scrai.agents.agent import CognitiveAgent
    from scrai.agents.brains.rule import RuleBrain
    from scrai.agents.view import WorldView

    scenario = load_scenario_file(path)
    agents = [CognitiveAgent(scenario, a, RuleBrain(scenario, a)) for a in scenario.agents]
    state = {
        a.id: {"place": a.place, "action_seq": 0, "last_rejection": None} for a in scenario.agents
    }
    cpu = 0.0
    for t in range(1, ticks + 4):
        for s in state.values():
            s["action_seq"] = t - 1
        view = WorldView(t, "bench", state, {})
        start = time.process_time()
        for agent in agents:
            agent.begin(view)
            agent.conclude(view, agent.brain.choose(agent.context(t)))
        if t > 3:  # after warm-up
            cpu += time.process_time() - start
    return Figure(
        f"rule brain, decisions only ({len(agents)} agents, no I/O)",
        len(agents) * ticks / cpu,
        "agent-ticks/cpu-s",
    )


async def run(args: argparse.Namespace) -> list[Figure]:
    async with bench_redis() as url:
        figures = [decisions_only(args.agents_scenario, args.agents_ticks)]
        figures += await multiplexed(url, args.agents_scenario, args.agents_ticks)
        figures += await process_mode(url, args.agents_process_count)
    return figures
