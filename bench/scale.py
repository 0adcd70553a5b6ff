"""Scale: agent-ticks/s and CPU per agent-tick as the cast doubles, through the full pipeline.

``scenarios/crowd.yml`` scaled to each size of ``--scale-agents`` (template counts and
place capacities grow with the cast, so density and social structure stay alike) runs
as in a deployment: rule-brain agent workers multiplexing ``--scale-per-worker``
agents each, the world system, the memory consolidator and analytics, all processes on
one Redis, ticking as fast as they can. After ``--scale-warmup`` ticks the bench
measures ``--scale-ticks`` ticks: the window ends when the world has closed the last
tick AND memory and analytics have stored it, so every counted agent-tick went all
the way through.

- **agent-ticks/s**: actions published in the window / its wall time.
- **CPU per agent-tick**: the sum of every process's CPU time (workers, world,
  memory, analytics, and the Redis server's own) over the window / agent-ticks.
  On a shared machine this is the steadier figure: other load slows the wall clock
  but barely changes what our processes burn.
- **growth per doubling**: CPU per agent-tick at 2N / at N (goal <= 1.2).
- **baseline**: raw Redis in the same run: XADD pipelined, XREADGROUP and XACK of the
  same number of entries, client plus server CPU per entry.

``--scale-crowd-seconds S`` (default 0: skipped) also runs the crowd soak:
``--scale-crowd-agents`` agents at one tick per second for S seconds, sampling each
consumer group's lag and the total RSS (all processes plus Redis) every second.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
import uuid
from pathlib import Path

import yaml

from bench.common import Figure, bench_redis
from bench.e2e import Pipeline, load_average, server_info, until
from scrai.connection import connect
from scrai.scenario.loader import parse_scenario
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from scrai.status import read_status

ROOT = Path(__file__).resolve().parent.parent
CROWD = ROOT / "scenarios" / "crowd.yml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scale")
    group.add_argument("--scale-agents", default="1000,2000,4000,8000", help="cast sizes")
    group.add_argument("--scale-ticks", type=int, default=8, help="measured ticks per size")
    group.add_argument("--scale-warmup", type=int, default=3, help="ticks before measuring")
    group.add_argument("--scale-per-worker", type=int, default=2_000, help="agents per worker")
    group.add_argument("--scale-raw-events", type=int, default=50_000, help="raw baseline size")
    group.add_argument("--scale-crowd-agents", type=int, default=10_000)
    group.add_argument("--scale-crowd-seconds", type=float, default=0.0, help="0: no soak")


def town(agents: int) -> dict:
    """``crowd.yml`` expanded with ``agents`` agents (template counts scaled), as a dict."""
    data = yaml.safe_load(CROWD.read_text(encoding="utf-8"))
    templates = data["templates"]
    named = len(data.get("agents", []))
    counts = [max(1, round(t["count"] * (agents - named) / sum(t["count"] for t in templates)))
              for t in templates]  # fmt: skip
    counts[-1] += agents - named - sum(counts)
    for template, count in zip(templates, counts, strict=True):
        template["count"] = count
    return parse_scenario(yaml.safe_dump(data, sort_keys=False), "crowd").model_dump(mode="json")


def _rename(node: object, ids: set[str], suffix: str) -> object:
    """Every string equal to a place, object or agent id gets ``suffix`` (keys too)."""
    if isinstance(node, str):
        return node + suffix if node in ids else node
    if isinstance(node, list):
        return [_rename(x, ids, suffix) for x in node]
    if isinstance(node, dict):
        return {_rename(k, ids, suffix): _rename(v, ids, suffix) for k, v in node.items()}
    return node


def crowd(agents: int, *, tick_interval_s: float, max_ticks: int | None = None) -> Scenario:
    """The crowd grown to ``agents`` at the same density: one town of ~1,000 per thousand.

    Growing one town would crowd more people into the same hundred cells, so each
    action would have more observers and cost more by design; separate towns (far
    apart, not linked) keep what an action touches the same while the cast grows.
    """
    if agents < 1_000:  # smaller templates renumber (merchant-01), breaking named references
        raise ValueError(f"the crowd needs at least 1,000 agents, not {agents}")
    towns = agents // 1_000
    sizes = [agents // towns + (1 if k < agents % towns else 0) for k in range(towns)]
    base = {size: town(size) for size in set(sizes)}
    world: dict = {"places": [], "objects": []}
    cast: list = []
    for k, size in enumerate(sizes):
        data = base[size]
        if towns > 1:
            ids = {p["id"] for p in data["world"]["places"]}
            ids |= {o["id"] for o in data["world"]["objects"]} | {a["id"] for a in data["agents"]}
            data = _rename(data, ids, f"-t{k}")
            for place in data["world"]["places"]:
                place["position"][0] += k * 1_000.0  # out of sight and reach of other towns
        world["places"] += data["world"]["places"]
        world["objects"] += data["world"]["objects"]
        cast += data["agents"]
    data = {**base[sizes[0]], "name": f"crowd-{agents}", "agents": cast}
    data["world"] = {**data["world"], **world}
    data["simulation"] = {
        **data["simulation"], "tick_interval_s": tick_interval_s, "tick_deadline_s": 120,
        "max_ticks": max_ticks,
    }  # fmt: skip
    return Scenario.model_validate(data)


async def start_cast(url: str, scenario: Scenario, per_worker: int, max_ticks: int) -> Pipeline:
    """Services, workers (shards), and once all agents are alive, the world."""
    pipe = Pipeline(url)
    await save_scenario(pipe.redis, pipe.keys, scenario)
    pipe.start_services()
    n = len(scenario.agents)
    shards = max(1, math.ceil(n / per_worker))
    for i in range(shards):
        argv = [sys.executable, str(ROOT / "run_agent_worker.py"), "--shard", f"{i}/{shards}"]
        pipe.start(f"worker-{i}", argv)

    async def alive() -> bool:
        return await pipe.redis.zcount(pipe.keys.agents_alive, time.time(), "+inf") >= n

    await until(alive, 600, "the agents", pipe.check)
    pipe.start_world(max_ticks)
    return pipe


async def stored(pipe: Pipeline) -> tuple[int, int, int]:
    """Last tick closed by the world, stored by memory, folded by analytics."""
    async with pipe.redis.pipeline(transaction=False) as p:
        p.hget(pipe.keys.clock, "last_closed")
        p.get(pipe.keys.memory_progress)
        p.hget(pipe.keys.analytics("meta"), "tick")
        world, memory, analytics = await p.execute()
    return int(world or 0), int(memory or 0), int(analytics or 0)


async def step(url: str, agents: int, args: argparse.Namespace) -> tuple[float, float, dict]:
    """One cast size: (agent-ticks/s, CPU us per agent-tick, CPU share by process)."""
    warm, last = args.scale_warmup, args.scale_warmup + args.scale_ticks
    scenario = crowd(agents, tick_interval_s=0.0, max_ticks=last)
    # Warm up with a world that stops at ``warm``; once memory and analytics have
    # stored it too, a second world (as after a restart) runs the measured ticks. So
    # the window holds no backlog from before it, and no process's start-up.
    pipe = await start_cast(url, scenario, args.scale_per_worker, warm)
    try:

        async def reached(tick: int) -> bool:
            return min(await stored(pipe)) >= tick

        await until(lambda: reached(warm), 900, "warm-up", pipe.check)
        await asyncio.to_thread(pipe.procs.pop("world").wait)
        pipe.start_world(last)

        async def opened() -> bool:
            return int(await pipe.redis.hget(pipe.keys.clock, "tick") or 0) > warm

        await until(opened, 120, "the measured ticks", pipe.check)
        wall0, cpu0 = time.perf_counter(), pipe.cpu()
        server0, _, _ = await server_info(pipe.redis)
        actions0 = await pipe.redis.xlen(pipe.keys.action_events)
        await until(lambda: reached(last), 1_800, "the measured ticks", pipe.check)
        wall = time.perf_counter() - wall0
        cpu1 = pipe.cpu()
        server1, _, _ = await server_info(pipe.redis)
        actions = await pipe.redis.xlen(pipe.keys.action_events) - actions0
    finally:
        await pipe.stop()
    share = {name: cpu1[name] - cpu0[name] for name in cpu1 if name in cpu0}
    share["redis"] = server1 - server0
    total = sum(share.values())
    return actions / wall, total / actions * 1e6, {k: v / actions * 1e6 for k, v in share.items()}


async def raw_cost(url: str, events: int) -> float:
    """Client + server CPU us per entry: XADD pipelined, XREADGROUP and XACK in batches of 500."""
    redis = connect(Settings(redis_url=url), block_ms=2_000)
    stream = f"bench-scale-raw-{uuid.uuid4().hex[:8]}"
    fields = {"type": "action", "entity_id": "a00001", "payload": "x" * 200}
    try:
        await redis.xgroup_create(stream, "g", id="0", mkstream=True)
        server0, _, _ = await server_info(redis)
        cpu0 = time.process_time()
        for start in range(0, events, 500):
            async with redis.pipeline(transaction=False) as p:
                for _ in range(min(500, events - start)):
                    p.xadd(stream, fields)
                await p.execute()
        done = 0
        while done < events:
            reply = await redis.xreadgroup("g", "c", {stream: ">"}, count=500, block=1_000)
            ids = [i for _, entries in reply for i, _ in entries]
            await redis.xack(stream, "g", *ids)
            done += len(ids)
        cpu = time.process_time() - cpu0
        server1, _, _ = await server_info(redis)
        return (cpu + server1 - server0) / events * 1e6
    finally:
        await redis.delete(stream)
        await redis.aclose()


async def soak(url: str, agents: int, seconds: float, per_worker: int) -> list[Figure]:
    """The crowd at one tick per second: lag per group and total RSS, sampled each second."""
    scenario = crowd(agents, tick_interval_s=1.0)
    pipe = await start_cast(url, scenario, per_worker, 100_000)
    samples: list[tuple[float, int, dict[str, int], float]] = []
    by_process: dict[str, float] = {}
    try:
        start = time.monotonic()
        while (now := time.monotonic() - start) < seconds:
            pipe.check()
            status = await read_status(pipe.redis, pipe.keys)
            lags = {
                f"{s.name.rsplit(':', 1)[-1]}/{g.name}": (g.lag or 0) + g.pending
                for s in status.streams
                for g in s.groups
            }
            _, redis_rss, _ = await server_info(pipe.redis)
            by_process = {**pipe.rss(), "redis": redis_rss}
            rss = sum(by_process.values())
            samples.append((now, status.last_closed or 0, lags, rss))
            await asyncio.sleep(1.0)
    finally:
        await pipe.stop()
    split = ", ".join(f"{k} {v:.0f}" for k, v in sorted(by_process.items()))
    print(f"  crowd {agents}: RSS MiB at the end: {split}", file=sys.stderr, flush=True)
    third = max(1, len(samples) // 3)
    figures = [
        Figure(
            f"crowd {agents} agents: ticks closed per s (goal 1.0, {seconds:.0f} s run)",
            (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0]),
            "ticks/s",
        ),
        Figure(
            f"crowd {agents} agents: total RSS peak (all processes + Redis)",
            max(s[3] for s in samples),
            "MiB",
        ),
    ]
    for group in sorted(samples[-1][2]):
        early = [s[2].get(group, 0) for s in samples[:third]]
        late = [s[2].get(group, 0) for s in samples[-third:]]
        figures.append(
            Figure.against(
                f"crowd {agents}: {group} backlog, last third vs first third (mean)",
                sum(late) / len(late),
                "entries",
                sum(early) / len(early),
            )
        )
    return figures


async def run(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    async with bench_redis() as url:
        raw = await raw_cost(url, args.scale_raw_events)
        costs: dict[int, float] = {}
        for agents in [int(n) for n in args.scale_agents.split(",") if n]:
            load = load_average()
            rate, cost, share = await step(url, agents, args)
            costs[agents] = cost
            split = ", ".join(f"{k} {v:.0f}" for k, v in sorted(share.items()))
            print(f"  scale {agents}: {rate:,.0f} agent-ticks/s, {cost:.0f} us/agent-tick "
                  f"({split}); load {load}", file=sys.stderr, flush=True)  # fmt: skip
            figures.append(Figure(f"full pipeline, {agents} agents", rate, "agent-ticks/s"))
            figures.append(Figure.against(f"CPU per agent-tick, {agents} agents", cost, "us", raw))
            if agents // 2 in costs:
                figures.append(
                    Figure.against(
                        f"cost growth {agents // 2} -> {agents} agents",
                        cost / costs[agents // 2],
                        "x",
                        1.2,
                    )
                )
        figures.append(Figure("raw XADD+XREADGROUP+XACK CPU per entry", raw, "us"))
        if args.scale_crowd_seconds > 0:
            figures += await soak(
                url, args.scale_crowd_agents, args.scale_crowd_seconds, args.scale_per_worker
            )
    return figures
