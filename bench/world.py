"""The world: committed actions/s through the world system, beside raw pipelined XADD.

The world runs as its own process (``python -m scrai.world``), as in a deployment.
This process plays ``--world-agents`` agents: each tick it publishes one action per
agent, pipelined, one tick ahead of the clock (the world stages the next tick), and
moves every agent back and forth between two linked places with some speech, so
every action is valid and commits. The figure is committed actions per second from
the first publish until this process can read the last tick's TickEvent.

The baseline is a redis-py pipeline of XADDs of the same ready-made action entries,
in batches of one tick, by this process alone, against the same server, alternating
with the world runs (medians of ``--world-runs``). What the ratio compares: the
world run does the baseline's work too (the same XADDs, by this process, at the
same time), plus everything the world does for each action: read it in its
consumer group, validate and stage it (dedupe markers, ack), then at the tick's
close validate it against the state and write the new state, a committed event
several times larger than the action, and the tick's bookkeeping, in one
MULTI/EXEC; three busy processes (this one, the world, Redis) share the machine
where the baseline had two. A ratio of 0.5 means one action's whole trip through
the world costs about as much wall time as publishing it twice. The CPU figures
say where the time goes: the world process's and the server's CPU per commit
(in the measured window), beside the server's CPU per raw XADD.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from bench.common import Figure, bench_redis, median, timed
from scrai.connection import connect
from scrai.events import ActionEvent, ActionPayload, Move, Speak
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from scrai.world.state import load_clock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("world")
    group.add_argument("--world-agents", type=int, default=1_000, help="agents (actions per tick)")
    group.add_argument("--world-ticks", type=int, default=30, help="ticks per run")
    group.add_argument("--world-runs", type=int, default=3, help="measured runs")


def scenario(agents: int, places: int = 100) -> Scenario:
    ring = [
        {
            "id": f"p{i}",
            "name": f"Place {i}",
            "position": [i * 10.0, 0.0],
            "neighbors": [f"p{(i + 1) % places}"],
        }
        for i in range(places)
    ]
    return Scenario.model_validate(
        {
            "name": f"bench-world-{agents}",
            "world": {"places": ring},
            "agents": [
                {"id": f"a{i:05d}", "name": f"A{i}", "place": f"p{i % places}"}
                for i in range(agents)
            ],
            "simulation": {
                "tick_interval_s": 0,
                "tick_deadline_s": 60,
                "perception_range": 12,
                "hearing_range": 12,
            },
        }
    )


def tick_fields(world: Scenario, tick: int, tag: str) -> list[dict[str, str]]:
    """One action per agent for ``tick``: out to the next place on odd ticks, back on even."""
    places = len(world.world.places)
    out = []
    for i, agent in enumerate(world.agents):
        home = i % places
        if i % 5 == 0:
            act: Any = Speak(text=f"hello at {tick}")
        else:
            act = Move(to=f"p{(home + 1) % places}" if tick % 2 else f"p{home}")
        out.append(
            ActionEvent(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"scrai:{tag}:{agent.id}:{tick}"),
                entity_id=agent.id,
                sequence=tick,
                tick=tick,
                payload=ActionPayload(action=act),
            ).to_fields()
        )
    return out


async def xadd_batches(redis: aioredis.Redis, stream: str, batches: list[list[dict]]) -> None:
    for batch in batches:
        async with redis.pipeline(transaction=False) as pipe:
            for fields in batch:
                pipe.xadd(stream, fields)
            await pipe.execute()


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def server_cpu_s(redis: aioredis.Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def last_tick_seen(redis: aioredis.Redis, keys: Keys, tick: int) -> None:
    """Return once the TickEvent of ``tick`` can be read from the committed stream."""
    last = "0-0"
    while True:
        newest: list[Any] = await redis.xrevrange(keys.committed_events, count=1)  # type: ignore[assignment]
        if newest:
            last, fields = newest[0]
            if fields["type"] == "tick" and int(fields["tick"]) >= tick:
                return
        # A tick's entries land in one MULTI/EXEC: wake on the next write, look again.
        await redis.xread({keys.committed_events: last}, count=1, block=1_000)


async def through_world(url: str, world: Scenario, batches: list[list[dict]]) -> dict[str, float]:
    """Run the world process over ``batches`` (one per tick): seconds, commits, CPU used."""
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=url, namespace=ns)
    keys = Keys(ns)
    redis = connect(settings, block_ms=1_000)
    ticks = len(batches)
    env = {**os.environ, "SCRAI_REDIS_URL": url, "SCRAI_NAMESPACE": ns}
    env["SCRAI_LOG_LEVEL"] = "WARNING"
    try:
        await save_scenario(redis, keys, world)
        expiry = time.time() + 3_600
        await redis.zadd(keys.agents_alive, {a.id: expiry for a in world.agents})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrai.world", "--max-ticks", str(ticks), env=env
        )
        pubsub = redis.pubsub()
        await pubsub.subscribe(keys.tick_channel)
        while (clock := await load_clock(redis, keys)) is None or clock.tick < 1:
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        world_cpu, server_cpu = process_cpu_s(proc.pid), await server_cpu_s(redis)
        start = time.perf_counter()
        await xadd_batches(redis, keys.action_events, batches[:2])  # ticks 1 and 2
        sent = 2
        while sent < ticks:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            opened = int(message["data"])  # tick t open: t + 1 may be staged
            while sent < min(ticks, opened + 1):
                await xadd_batches(redis, keys.action_events, [batches[sent]])
                sent += 1
        await last_tick_seen(redis, keys, ticks)
        seconds = time.perf_counter() - start
        end_cpu = process_cpu_s(proc.pid)
        server_cpu = await server_cpu_s(redis) - server_cpu
        await pubsub.aclose()
        if await proc.wait() != 0:
            raise RuntimeError(f"the world process exited with {proc.returncode}")
        log: list[Any] = await redis.xrange(keys.committed_events)  # type: ignore[assignment]
        commits = sum(json.loads(f["payload"])["committed"] for _, f in log if f["type"] == "tick")
        world_cpu = end_cpu - world_cpu if end_cpu is not None and world_cpu is not None else -1
        return {"seconds": seconds, "commits": commits, "cpu": world_cpu, "server": server_cpu}
    finally:
        await redis.delete(*[k async for k in redis.scan_iter(f"{ns}:*")])
        await redis.aclose()


async def run(args: argparse.Namespace) -> list[Figure]:
    world = scenario(args.world_agents)
    tag = uuid.uuid4().hex
    batches = [tick_fields(world, t, tag) for t in range(1, args.world_ticks + 1)]
    total = sum(len(b) for b in batches)
    rates, raws, tick_rates, raw_server, runs = [], [], [], [], []
    async with bench_redis() as url:
        redis = connect(Settings(redis_url=url), block_ms=1_000)
        try:
            for i in range(args.world_runs):
                stream = f"bench-raw-{tag}-{i}"
                server = await server_cpu_s(redis)
                raws.append(total / await timed(xadd_batches(redis, stream, batches)))
                raw_server.append(await server_cpu_s(redis) - server)
                await redis.delete(stream)
                run = await through_world(url, world, batches)
                if run["commits"] != total:
                    raise RuntimeError(f"{run['commits']} of {total} actions committed")
                rates.append(total / run["seconds"])
                tick_rates.append(args.world_ticks / run["seconds"])
                runs.append(run)
        finally:
            await redis.aclose()
    rate, raw = median(rates), median(raws)
    us = 1e6 / total
    figures = [
        Figure.against(f"world commits ({args.world_agents} agents/tick)", rate, "actions/s", raw),
        Figure("world ticks", median(tick_rates), "ticks/s"),
        Figure("raw pipelined XADD", raw, "entries/s"),
    ]
    if all(r["cpu"] >= 0 for r in runs):
        cpu = median(r["cpu"] for r in runs) * us
        figures.append(Figure("world process CPU", cpu, "us/commit"))
    figures.append(
        Figure.against(
            "server CPU (world run)",
            median(r["server"] for r in runs) * us,
            "us/commit",
            median(raw_server) * us,  # the baseline: the server's CPU per raw XADD
        )
    )
    return figures
