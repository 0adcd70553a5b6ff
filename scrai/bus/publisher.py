"""Putting events on a stream: one, or a batch in one round trip."""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from scrai.events import Event


async def publish(redis: aioredis.Redis, stream: str, event: Event) -> str:
    """Append one event; returns its stream id.

    Never trims on the way in: retention is :func:`scrai.bus.trim`'s job, which
    knows what every consumer group still has to read.
    """
    return await redis.xadd(stream, event.to_fields())  # type: ignore[arg-type]


async def publish_many(redis: aioredis.Redis, stream: str, events: Iterable[Event]) -> list[str]:
    """Append a batch in one pipelined round trip; returns the stream ids in order."""
    async with redis.pipeline(transaction=False) as pipe:
        for event in events:
            pipe.xadd(stream, event.to_fields())  # type: ignore[arg-type]
        return await pipe.execute()
