"""The world: committed actions/s through the world system, beside raw pipelined XADD.

The world runs as its own process (``python -m scrai.world``), as in a deployment.
This process plays ``--world-agents`` agents: each tick it publishes one action per
agent, pipelined, one tick ahead of the clock (the world stages the next tick), and
moves every agent back and forth between two linked places with some speech, so
every action is valid and commits. The figure is committed actions per second from
the first publish to the close of the last tick; the baseline is a redis-py
pipeline of XADDs of the same number of ready-made entries, in batches of one tick,
against the same server in the same run.
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


async def through_world(url: str, world: Scenario, batches: list[list[dict]]) -> tuple[float, int]:
    """Run the world process over ``batches`` (one per tick); returns (seconds, commits)."""
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
        start = time.time()
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
        await pubsub.aclose()
        if await proc.wait() != 0:
            raise RuntimeError(f"the world process exited with {proc.returncode}")
        log: list[Any] = await redis.xrange(keys.committed_events)  # type: ignore[assignment]
        end = float(log[-1][1]["timestamp"])  # the close of the last tick
        commits = sum(json.loads(f["payload"])["committed"] for _, f in log if f["type"] == "tick")
        return end - start, commits
    finally:
        await redis.delete(*[k async for k in redis.scan_iter(f"{ns}:*")])
        await redis.aclose()


async def run(args: argparse.Namespace) -> list[Figure]:
    world = scenario(args.world_agents)
    tag = uuid.uuid4().hex
    batches = [tick_fields(world, t, tag) for t in range(1, args.world_ticks + 1)]
    total = sum(len(b) for b in batches)
    rates, raws, tick_rates = [], [], []
    async with bench_redis() as url:
        redis = connect(Settings(redis_url=url), block_ms=1_000)
        try:
            for i in range(args.world_runs):
                stream = f"bench-raw-{tag}-{i}"
                raws.append(total / await timed(xadd_batches(redis, stream, batches)))
                await redis.delete(stream)
                seconds, commits = await through_world(url, world, batches)
                if commits != total:
                    raise RuntimeError(f"{commits} of {total} actions committed")
                rates.append(commits / seconds)
                tick_rates.append(args.world_ticks / seconds)
        finally:
            await redis.aclose()
    rate, raw = median(rates), median(raws)
    return [
        Figure.against(f"world commits ({args.world_agents} agents/tick)", rate, "actions/s", raw),
        Figure("world ticks", median(tick_rates), "ticks/s"),
        Figure("raw pipelined XADD", raw, "entries/s"),
    ]
