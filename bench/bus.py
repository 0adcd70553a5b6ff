"""The bus: batched publish and consume+ack through the full consumer, beside raw redis-py.

Publish: :func:`scrai.bus.publish_many` (building each entry from its event) against a
redis-py pipeline of XADDs of the same, ready-made fields. Consume: the full
:class:`scrai.bus.Consumer` (parse and validate every event, dedupe by event_id, a
handler queuing a trivial effect, effect + ack + dedupe markers in one MULTI/EXEC)
against a bare XREADGROUP + XACK loop. Each is measured ``--bus-runs`` times, alternating
with its baseline; the figures are medians.
"""

from __future__ import annotations

import argparse
import gc
import uuid

import redis.asyncio as aioredis

from bench.common import Figure, bench_redis, median, timed
from scrai.bus import Consumer, publish_many
from scrai.connection import connect
from scrai.events import ActionEvent, ActionPayload, Event, Move
from scrai.keys import Keys
from scrai.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bus")
    group.add_argument("--bus-events", type=int, default=20_000, help="events per run")
    group.add_argument("--bus-batch", type=int, default=500, help="events per publish / read")
    group.add_argument("--bus-runs", type=int, default=5, help="measured runs per figure")


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
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    n = 0
    while True:
        reply = await redis.xreadgroup(group, "bench", {stream: ">"}, count=batch)
        if not reply or not reply[0][1]:
            return n
        ids = [stream_id for stream_id, _ in reply[0][1]]
        await redis.xack(stream, group, *ids)
        n += len(ids)


async def run(args: argparse.Namespace) -> list[Figure]:
    n, batch, runs = args.bus_events, args.bus_batch, args.bus_runs
    events = sample_events(n)
    fields = [e.to_fields() for e in events]
    # The inputs live for the whole run: keep them out of the collector's way, so the
    # cyclic GC scanning them is not billed to whichever side allocates more.
    gc.collect()
    gc.freeze()
    async with bench_redis() as url:
        settings = Settings(redis_url=url, namespace=f"bench-{uuid.uuid4().hex[:8]}")
        keys = Keys(settings.namespace)
        redis = connect(settings, block_ms=settings.consumer_block_ms)
        try:
            await publish_ours(redis, keys.analytics("warmup"), events[:2_000], batch)
            ours_pub, raw_pub, ours_con, raw_con = [], [], [], []
            for i in range(runs):
                gc.collect()
                mine, theirs = keys.analytics(f"ours{i}"), keys.analytics(f"raw{i}")
                ours_pub.append(n / await timed(publish_ours(redis, mine, events, batch)))
                raw_pub.append(n / await timed(publish_raw(redis, theirs, fields, batch)))
                # Both consume the same stream (ours), each with a group of its own.
                ours_con.append(n / await timed(consume_ours(redis, keys, mine, "full", batch)))
                raw_con.append(n / await timed(consume_raw(redis, mine, "raw", batch)))
                await redis.delete(mine, theirs)
            await redis.delete(*[k async for k in redis.scan_iter(f"{settings.namespace}:*")])
        finally:
            await redis.aclose()
            gc.unfreeze()
    pub, pub_raw = median(ours_pub), median(raw_pub)
    con, con_raw = median(ours_con), median(raw_con)
    return [
        Figure.against("publish_many (batched)", pub, "events/s", pub_raw),
        Figure.against("consume+ack (full Consumer)", con, "events/s", con_raw),
        Figure("raw pipelined XADD", pub_raw, "events/s"),
        Figure("raw XREADGROUP+XACK", con_raw, "events/s"),
    ]
