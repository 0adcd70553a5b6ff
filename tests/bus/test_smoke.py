from scrai.bus import Consumer, publish_many
from scrai.events import ActionEvent, ActionPayload, Idle


async def test_published_events_are_handled_once(redis, keys):
    stream = keys.action_events
    events = [
        ActionEvent(entity_id="a", sequence=i, tick=i, payload=ActionPayload(action=Idle()))
        for i in range(1, 1001)
    ]
    await publish_many(redis, stream, events)
    await publish_many(redis, stream, events[:10])  # duplicates by event_id
    await redis.xadd(stream, {"type": "nonsense"})
    seen: list[str] = []

    async def handler(batch, tx):
        for d in batch:
            seen.append(str(d.event.event_id))
            tx.incr(keys.analytics("count"))

    consumer = Consumer(redis, stream, "g", "c1", handler, keys=keys, batch_size=128)
    stats = await consumer.run(burst=True)
    assert sorted(seen) == sorted(str(e.event_id) for e in events)
    assert int(await redis.get(keys.analytics("count"))) == 1000
    assert stats.duplicates == 10
    dead = await redis.xrange(keys.dead_letter(stream))
    assert len(dead) == 1 and dead[0][1]["reason"] == "unknown_type"
    assert (await redis.xpending(stream, "g"))["pending"] == 0
