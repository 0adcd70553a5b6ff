"""Publishing one event and a batch."""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError

from scrai.bus import publish, publish_many
from scrai.events import parse_event
from tests.helpers import idle_events


async def test_publish_one_returns_its_stream_id(redis, stream) -> None:
    event = idle_events(1)[0]
    stream_id = await publish(redis, stream, event)
    [(got_id, fields)] = await redis.xrange(stream)
    assert got_id == stream_id
    assert parse_event(fields) == event


async def test_publish_many_keeps_order_in_one_round_trip(redis, stream) -> None:
    events = idle_events(250)
    ids = await publish_many(redis, stream, events)
    assert len(ids) == 250 and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    entries = await redis.xrange(stream)
    assert [i for i, _ in entries] == ids
    assert [parse_event(f) for _, f in entries] == events


async def test_publish_many_of_nothing_is_a_no_op(redis, stream) -> None:
    assert await publish_many(redis, stream, []) == []
    assert await redis.exists(stream) == 0


async def test_publish_many_reports_an_error_and_the_client_stays_usable(redis, stream) -> None:
    await redis.set(stream, "not a stream")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await publish_many(redis, stream, idle_events(3))
    assert await redis.get(stream) == "not a stream"  # replies were all read: in step
    other = f"{stream}:other"
    assert len(await publish_many(redis, other, idle_events(2))) == 2
    assert await redis.xlen(other) == 2


async def test_publish_many_from_a_plain_redis_py_client(redis_url, stream) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        events = idle_events(5)
        ids = await publish_many(client, stream, events)
        assert [i for i, _ in await client.xrange(stream)] == ids
    finally:
        await client.delete(stream)
        await client.aclose()
