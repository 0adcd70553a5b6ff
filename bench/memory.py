"""Memory: the consolidator's throughput and recall's latency, beside the bare bus and ZRANGE.

A synthetic committed log (``bench.synthetic``: agents on a ring of places, each tick
moving, speaking or idling, observed by up to 20 neighbours) goes through the memory
consolidator in burst mode, against a bare :class:`scrai.bus.Consumer` that only acks
the same log: the ratio is what writing every actor's and observer's memories costs.
Recall of a full memory (``max_memories``) is timed against the bare ``ZRANGE`` it is
built on.
"""

from __future__ import annotations

import argparse
import time
import uuid

import redis.asyncio as aioredis

from bench.common import Figure, bench_redis, median, timed
from bench.synthetic import committed_log
from scrai.bus import Consumer, publish_many
from scrai.connection import connect
from scrai.events import Event
from scrai.keys import Keys
from scrai.memory.consolidator import MemoryConsolidator
from scrai.memory.store import MemoryStore
from scrai.scenario.model import Scenario
from scrai.settings import Settings

PLACES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument("--memory-agents", type=int, default=300, help="agents in the log")
    group.add_argument("--memory-ticks", type=int, default=20, help="ticks in the log")
    group.add_argument("--memory-recalls", type=int, default=300, help="recalls timed")
    group.add_argument(
        "--memory-observers", type=int, default=20, help="most observers per event (crowd: ~50)"
    )


def scenario(agents: int) -> Scenario:
    places = [
        {
            "id": f"p{i}",
            "name": f"Place {i}",
            "position": [i * 10.0, 0],
            "neighbors": [f"p{(i + 1) % PLACES}"],
        }
        for i in range(PLACES)
    ]
    cast = [
        {"id": f"a{i:05d}", "name": f"Agent {i}", "place": f"p{i % PLACES}"} for i in range(agents)
    ]
    return Scenario.model_validate(
        {
            "name": "bench-memory",
            "world": {"places": places},
            "agents": cast,
            "simulation": {"perception_range": 12, "hearing_range": 8},
        }
    )


async def _load(redis: aioredis.Redis, keys: Keys, events: list[Event]) -> None:
    for i in range(0, len(events), 2_000):
        await publish_many(redis, keys.committed_events, events[i : i + 2_000])


async def run(args: argparse.Namespace) -> list[Figure]:
    sc = scenario(args.memory_agents)
    events = committed_log(sc, args.memory_ticks, observers=args.memory_observers)
    async with bench_redis() as url:
        settings = Settings(redis_url=url)
        redis = connect(settings, block_ms=settings.consumer_block_ms)
        try:
            bare_keys, keys = (
                Keys(f"bm-bare-{uuid.uuid4().hex[:6]}"),
                Keys(f"bm-{uuid.uuid4().hex[:6]}"),
            )
            await _load(redis, bare_keys, events)
            await _load(redis, keys, events)

            async def ack_only(batch: list, tx: object) -> None:
                return None

            bare = Consumer(
                redis,
                bare_keys.committed_events,
                "memory",
                "bare",
                ack_only,
                keys=bare_keys,
                batch_size=settings.consumer_batch_size,
            )
            bare_s = await timed(bare.run(burst=True))
            consolidator = MemoryConsolidator(redis, keys, sc, settings=settings)
            cpu0 = time.process_time()
            ours_s = await timed(consolidator.run(burst=True))
            cpu_s = time.process_time() - cpu0

            store = MemoryStore(redis, keys, sc.memory)
            counts = [await store.count(a.id) for a in sc.agents]
            written = consolidator.memories_written
            full = [a.id for a, n in zip(sc.agents, counts, strict=True) if n == max(counts)]
            picks = [full[i % len(full)] for i in range(args.memory_recalls)]
            recall_s, zrange_s = [], []
            for agent_id in picks:
                zrange_s.append(await timed(redis.zrange(keys.memories(agent_id), 0, -1)))
                recall_s.append(
                    await timed(store.recall(agent_id, ["festival", "p3"], args.memory_ticks))
                )
            size = median([await redis.memory_usage(keys.memories(a)) or 0 for a in full[:50]])
        finally:
            await redis.aclose()
    n = len(events)
    return [
        Figure.against(
            "consolidator events/s (vs ack-only consumer)", n / ours_s, "events/s", n / bare_s
        ),
        Figure("consolidator events per client CPU-second", n / cpu_s, "events/s"),
        Figure("memories written per event (actor + observers)", written / n, "memories"),
        Figure.against(
            f"recall latency at {max(counts)} memories (vs bare ZRANGE)",
            median(recall_s) * 1000,
            "ms",
            median(zrange_s) * 1000,
        ),
        Figure(f"Redis bytes per agent at {max(counts)} memories", size, "bytes"),
    ]
