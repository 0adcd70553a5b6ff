"""Publishing one event and a batch."""

from __future__ import annotations

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
