"""The bus: batched publish and consume+ack through the full consumer, beside raw redis-py.

Publish: :func:`scrai.bus.publish_many` (building each entry from its event) against a
redis-py pipeline of XADDs of the same, ready-made fields. Consume: the full
:class:`scrai.bus.Consumer` (parse and validate every event, dedupe by event_id, a
handler queuing a trivial effect, effect + ack + dedupe markers in one MULTI/EXEC)
against a bare XREADGROUP + XACK loop. Like with like: both sides use the same client
(``scrai.connection.connect``: hiredis, responses decoded to str), the same batch size
(``--bus-batch``) for every read and pipeline, and read the same stream (each with a
group of its own); neither blocks. Only the work the baseline leaves out differs: it
neither parses, validates, dedupes, dead-letters nor stores an effect. The baselines'
figure names say what they do. Each is measured ``--bus-runs`` times, alternating
with its baseline; the figures are medians. Both sides run with the collector settings
of the services (:func:`scrai.service.tune_gc`; ``--bus-default-gc`` keeps the
interpreter's).
"""

from __future__ import annotations

import argparse
import gc
import uuid
from collections.abc import Awaitable
from typing import Any

import redis.asyncio as aioredis

from bench.common import Figure, bench_redis, median, timed
from scrai.bus import Consumer, publish_many
from scrai.connection import connect
from scrai.events import ActionEvent, ActionPayload, Event, Move
from scrai.keys import Keys
from scrai.service import tune_gc
from scrai.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bus")
    group.add_argument("--bus-events", type=int, default=20_000, help="events per run")
    group.add_argument("--bus-batch", type=int, default=500, help="events per publish / read")
    group.add_argument("--bus-runs", type=int, default=5, help="measured runs per figure")
    group.add_argument(
        "--bus-default-gc",
        action="store_true",
        help="keep the interpreter's collector settings instead of the services' (tune_gc)",
    )


def sample_events(n: int) -> list[Event]:
    return [
        ActionEvent(
            entity_id=f"agent-{i % 50}",
            sequence=i,
            tick=i // 50,
            payload=ActionPayload(action=Move(to=f"place-{i % 13}")),
        )
        for i in range(n)
    ]


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def publish_ours(redis: aioredis.Redis, stream: str, events: list[Event], batch: int) -> None:
    for chunk in chunks(events, batch):
        await publish_many(redis, stream, chunk)


async def publish_raw(
    redis: aioredis.Redis, stream: str, fields: list[dict[str, str]], batch: int
) -> None:
    for chunk in chunks(fields, batch):
        async with redis.pipeline(transaction=False) as pipe:
            for entry in chunk:
                pipe.xadd(stream, entry)
            await pipe.execute()


async def consume_ours(
    redis: aioredis.Redis, keys: Keys, stream: str, group: str, batch: int
) -> int:
    counter = keys.analytics(f"bench:{group}")

    async def handler(deliveries, tx) -> None:
        tx.incrby(counter, len(deliveries))  # the trivial effect, stored with the ack

    consumer = Consumer(redis, stream, group, "bench", handler, keys=keys, batch_size=batch)
    stats = await consumer.run(burst=True)
    return stats.handled


async def consume_raw(redis: aioredis.Redis, stream: str, group: str, batch: int) -> int:
    """The baseline: XREADGROUP COUNT batch, then XACK of the ids read, until none is left."""
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    n = 0
    while True:
        reply: Any = await redis.xreadgroup(group, "bench", {stream: ">"}, count=batch)
        if not reply or not reply[0][1]:
            return n
        ids = [stream_id for stream_id, _ in reply[0][1]]
        await redis.xack(stream, group, *ids)
        n += len(ids)


async def pair(
    first: Awaitable[object], second: Awaitable[object], swap: bool
) -> tuple[float, float]:
    """Seconds for each of two measurements, run back to back (in the other order if swap)."""
    if swap:
        b = await timed(second)
        return await timed(first), b
    a = await timed(first)
    return a, await timed(second)


async def run(args: argparse.Namespace) -> list[Figure]:
    n, batch, runs = args.bus_events, args.bus_batch, args.bus_runs
    events = sample_events(n)
    fields = [e.to_fields() for e in events]
    # The inputs live for the whole run: keep them out of the collector's way, so the
    # cyclic GC scanning them is not billed to whichever side allocates more. Both sides
    # then run with the collector settings of every service (run_service calls tune_gc).
    thresholds = gc.get_threshold()
    if args.bus_default_gc:
        gc.collect()
        gc.freeze()
    else:
        tune_gc()
    pub: list[tuple[float, float]] = []  # (ours, raw) events/s, measured back to back
    con: list[tuple[float, float]] = []
    async with bench_redis() as url:
        settings = Settings(redis_url=url, namespace=f"bench-{uuid.uuid4().hex[:8]}")
        keys = Keys(settings.namespace)
        redis = connect(settings, block_ms=settings.consumer_block_ms)
        try:
            await publish_ours(redis, keys.analytics("warmup"), events[:2_000], batch)
            for i in range(runs):
                gc.collect()
                swap = i % 2 == 1  # alternate who goes first, so drift hits both alike
                mine, theirs = keys.analytics(f"ours{i}"), keys.analytics(f"raw{i}")
                ours_s, raw_s = await pair(
                    publish_ours(redis, mine, events, batch),
                    publish_raw(redis, theirs, fields, batch),
                    swap,
                )
                pub.append((n / ours_s, n / raw_s))
                # Both consume the same stream, each with a group of its own.
                ours_s, raw_s = await pair(
                    consume_ours(redis, keys, mine, "full", batch),
                    consume_raw(redis, mine, "raw", batch),
                    swap,
                )
                con.append((n / ours_s, n / raw_s))
                await redis.delete(mine, theirs)
            await redis.delete(*[k async for k in redis.scan_iter(f"{settings.namespace}:*")])
        finally:
            await redis.aclose()
            gc.unfreeze()
            gc.set_threshold(*thresholds)
    return [
        *compared(f"publish_many (batched, {batch} per call)", pub),
        *compared(f"consume+ack (full Consumer, batch {batch})", con),
        Figure(
            f"raw pipelined XADD ({batch} ready-made entries per pipeline)",
            median(r for _, r in pub),
            "events/s",
        ),
        Figure(
            f"raw XREADGROUP COUNT {batch} + XACK (same client, decoded, no parsing)",
            median(r for _, r in con),
            "events/s",
        ),
    ]


def compared(name: str, pairs: list[tuple[float, float]]) -> list[Figure]:
    """Medians of ours and of raw; the ratio is the median of the back-to-back ratios,
    which a busy machine disturbs less than a ratio of two separate medians."""
    ours, raw = median(o for o, _ in pairs), median(r for _, r in pairs)
    return [Figure(name, ours, "events/s", raw, median(o / r for o, r in pairs))]
