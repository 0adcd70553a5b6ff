"""The consumer-group loop against the real server: order, claims, acks, retries, dedupe."""

from __future__ import annotations

import asyncio
import time

import pytest

from scrai.bus import Consumer
from tests.helpers import wait_for


class Recorder:
    """A handler that records what it saw and stores one effect per event."""

    def __init__(self, effects_key: str, fail_on: dict[str, int] | None = None) -> None:
        self.effects_key = effects_key
        self.seen: list[str] = []  # stream ids, in handling order (incl. retried attempts)
        self.fail_on = dict(fail_on or {})  # event_id -> failures left before it succeeds

    async def __call__(self, batch, tx) -> None:
        for delivery in batch:
            eid = str(delivery.event.event_id)
            if self.fail_on.get(eid, 0) > 0:
                self.fail_on[eid] -= 1
                raise RuntimeError(f"boom on {eid}")
        for delivery in batch:
            self.seen.append(delivery.stream_id)
            tx.hincrby(self.effects_key, str(delivery.event.event_id), 1)


def make(redis, stream, keys, handler, name="c1", **options) -> Consumer:
    options.setdefault("claim_idle_ms", 60_000)
    return Consumer(redis, stream, "g", name, handler, keys=keys, **options)


async def effect_counts(redis, key) -> dict[str, int]:
    return {k: int(v) for k, v in (await redis.hgetall(key)).items()}


async def test_restart_reads_own_pending_first(redis, keys, stream, publish) -> None:
    first = await publish(20)
    consumer = make(redis, stream, keys, Recorder(keys.analytics("fx")))
    await consumer.ensure_group()
    # c2 reads and acks entries 1-10; c1 reads 11-20 and "crashes" before acking them.
    got = await redis.xreadgroup("g", "c2", {stream: ">"}, count=10)
    await redis.xack(stream, "g", *[i for i, _ in got[0][1]])
    await redis.xreadgroup("g", "c1", {stream: ">"}, count=10)
    later = await publish(10)

    recorder = Recorder(keys.analytics("fx"))
    stats = await make(redis, stream, keys, recorder, batch_size=3).run(burst=True)
    # Its own pending entries (11-20) come before anything new (21-30).
    assert recorder.seen == [i for i, _ in first[10:]] + [i for i, _ in later]
    assert stats.handled == 20
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_claims_a_dead_consumers_entries_following_the_cursor(
    redis, keys, stream, publish
) -> None:
    published = await publish(25)
    await make(redis, stream, keys, Recorder("x")).ensure_group()
    await redis.xreadgroup("g", "dead", {stream: ">"}, count=100)  # reads all, then dies

    recorder = Recorder(keys.analytics("fx"))
    patient = make(redis, stream, keys, recorder, name="live", batch_size=4)
    assert await patient.claim() == 0  # not idle long enough yet: nothing taken

    # COUNT 4 per XAUTOCLAIM: one claim() must follow the cursor over 7 calls.
    eager = make(redis, stream, keys, recorder, name="live", batch_size=4, claim_idle_ms=0)
    assert await eager.claim() == 25
    assert sorted(recorder.seen) == sorted(i for i, _ in published)
    assert eager.stats.batches == 7
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    assert set((await effect_counts(redis, keys.analytics("fx"))).values()) == {1}


async def test_ack_only_with_the_effect(redis, keys, stream, publish) -> None:
    [(stream_id, event)] = await publish(1)
    fx = keys.analytics("fx")
    attempts = 0

    async def handler(batch, tx) -> None:
        nonlocal attempts
        attempts += 1
        # While the handler runs, the entry is still pending: nothing acked ahead of the effect.
        pending = await redis.xpending_range(stream, "g", "-", "+", 10)
        assert [p["message_id"] for p in pending] == [stream_id]
        tx.hincrby(fx, str(event.event_id), 1)
        if attempts == 1:
            tx.execute_command("NOSUCHCOMMAND")  # the transaction aborts as a whole

    consumer = make(redis, stream, keys, handler)
    stats = await consumer.run(burst=True)
    assert attempts == 2 and stats.failures == 1 and stats.handled == 1
    assert await effect_counts(redis, fx) == {str(event.event_id): 1}
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    assert await redis.hlen(keys.failures(stream, "g")) == 0  # cleared once handled


async def test_poison_entry_dead_letters_after_n_failures_while_the_rest_flow(
    redis, keys, stream, publish
) -> None:
    published = await publish(20)
    poison_id, poison = published[6]
    flaky = published[12][1]
    fx = keys.analytics("fx")
    recorder = Recorder(fx, fail_on={str(poison.event_id): 99, str(flaky.event_id): 1})
    stats = await make(redis, stream, keys, recorder, batch_size=8, max_deliveries=3).run(
        burst=True
    )

    counts = await effect_counts(redis, fx)
    assert counts == {str(e.event_id): 1 for i, e in published if i != poison_id}
    [(_, dead)] = await redis.xrange(keys.dead_letter(stream))
    assert dead["reason"] == "handler_failed" and dead["source_id"] == poison_id
    assert "failed 3 deliveries" in dead["message"] and "boom" in dead["message"]
    assert dead["orig_event_id"] == str(poison.event_id) and dead["group"] == "g"
    # The flaky entry's one failure happened in its batch; alone, it then succeeded at once.
    assert stats.dead_lettered == 1 and stats.failures == 3
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    assert await redis.hlen(keys.failures(stream, "g")) == 0


async def test_malformed_entries_dead_letter_at_once(redis, keys, stream, publish) -> None:
    before = await publish(3)
    await redis.xadd(stream, {"type": "teleport", "payload": "{}"})
    broken = before[0][1].to_fields() | {"payload": "{not json"}
    await redis.xadd(stream, broken)
    newer = before[1][1].to_fields() | {"schema_version": "99"}
    await redis.xadd(stream, newer)
    after = await publish(3)

    recorder = Recorder(keys.analytics("fx"))
    stats = await make(redis, stream, keys, recorder).run(burst=True)
    assert stats.failures == 0 and stats.dead_lettered == 3
    dead = [f for _, f in await redis.xrange(keys.dead_letter(stream))]
    assert [d["reason"] for d in dead] == [
        "unknown_type",
        "malformed",
        "unsupported_schema_version",
    ]
    assert dead[1]["orig_payload"] == "{not json" and "not JSON" in dead[1]["message"]
    assert recorder.seen == [i for i, _ in before + after]
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_idempotent_by_event_id(redis, keys, stream, publish) -> None:
    published = await publish(10)
    events = [e for _, e in published]
    fx = keys.analytics("fx")
    recorder = Recorder(fx)
    await make(redis, stream, keys, recorder).run(burst=True)

    # The same events again, later and twice within one batch, read by another member.
    from scrai.bus import publish_many

    await publish_many(redis, stream, events[:5] + events[:5])
    other = make(redis, stream, keys, recorder, name="c2")
    stats = await other.run(burst=True)
    assert stats.handled == 0 and stats.duplicates == 10
    assert await effect_counts(redis, fx) == {str(e.event_id): 1 for e in events}
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_markers_expire_by_time_bucket_and_the_last_bucket_still_counts(
    redis, keys, stream, publish
) -> None:
    """A marker is kept at least a window: one written in the previous bucket still
    dedupes (so does one in the next, by a member whose clock runs ahead), and each
    bucket expires as a whole after the next one ends."""
    window = 600
    published = await publish(4)
    events = [e for _, e in published]
    bucket = int(time.time()) // window
    # Event 0 applied in the previous bucket (as if near its end), event 1 in the next.
    await redis.sadd(keys.seen_bucket(stream, "g", bucket - 1), events[0].event_id.bytes)
    await redis.sadd(keys.seen_bucket(stream, "g", bucket + 1), events[1].event_id.bytes)
    fx = keys.analytics("fx")
    stats = await make(redis, stream, keys, Recorder(fx), dedupe_window_s=window).run(burst=True)
    assert stats.handled == 2 and stats.duplicates == 2
    assert set(await effect_counts(redis, fx)) == {str(e.event_id) for e in events[2:]}
    current = keys.seen_bucket(stream, "g", int(time.time()) // window)
    assert await redis.smismember(current, [e.event_id.bytes for e in events[2:]]) == [1, 1]
    expire_at = await redis.expiretime(current)
    assert expire_at == (int(current.rsplit(":", 1)[1]) + 2) * window + 1


async def test_markers_of_the_sorted_set_still_count(redis, keys, stream, publish) -> None:
    """Markers an older version kept in the sorted set Keys.seen are honoured, and that
    set is left to expire one window later."""
    published = await publish(3)
    legacy = keys.seen(stream, "g")
    await redis.zadd(legacy, {published[0][1].event_id.bytes: time.time()})
    fx = keys.analytics("fx")
    stats = await make(redis, stream, keys, Recorder(fx), dedupe_window_s=900).run(burst=True)
    assert stats.handled == 2 and stats.duplicates == 1
    assert 0 < await redis.ttl(legacy) <= 900


async def test_burst_returns_when_drained_and_resumes(redis, keys, stream, publish) -> None:
    recorder = Recorder(keys.analytics("fx"))
    consumer = make(redis, stream, keys, recorder, batch_size=7)
    assert (await consumer.run(burst=True)).handled == 0  # empty stream: returns at once
    await publish(30)
    assert (await consumer.run(burst=True)).handled == 30
    await publish(5)
    assert (await consumer.run(burst=True)).handled == 35
    assert len(recorder.seen) == 35


async def test_stop_ends_a_blocking_run(redis, keys, stream, publish) -> None:
    stop = asyncio.Event()
    recorder = Recorder(keys.analytics("fx"))
    consumer = make(redis, stream, keys, recorder, block_ms=50, stop=stop)
    task = asyncio.create_task(consumer.run())
    await publish(5)
    await wait_for(lambda: len(recorder.seen) == 5, 10)
    stop.set()
    stats = await asyncio.wait_for(task, 5)
    assert stats.handled == 5


@pytest.mark.parametrize("dedupe", [True, False])
async def test_from_settings_uses_the_namespace(redis, settings, keys, stream, dedupe) -> None:
    consumer = Consumer.from_settings(
        redis, settings, stream, "g", "c", Recorder("x"), dedupe=dedupe
    )
    assert consumer.batch_size == settings.consumer_batch_size
    assert consumer.keys == keys and consumer.dedupe is dedupe


async def test_entries_trimmed_while_pending_are_acked_not_handled(
    redis, keys, stream, publish
) -> None:
    published = await publish(10)
    await make(redis, stream, keys, Recorder("x")).ensure_group()
    await redis.xreadgroup("g", "c1", {stream: ">"}, count=10)  # c1 read them all, then died
    await redis.xtrim(stream, minid=published[4][0], approximate=False)  # first four gone
    recorder = Recorder(keys.analytics("fx"))
    stats = await make(redis, stream, keys, recorder).run(burst=True)
    assert recorder.seen == [i for i, _ in published[4:]] and stats.handled == 6
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_recreates_its_group_when_the_stream_is_deleted(redis, keys, stream, publish) -> None:
    recorder = Recorder(keys.analytics("fx"))
    consumer = make(redis, stream, keys, recorder)
    await publish(3)
    assert (await consumer.run(burst=True)).handled == 3
    await redis.delete(stream)  # stream and group gone (e.g. a reset of the run)
    await publish(2)
    assert (await consumer.run(burst=True)).handled == 5


async def test_a_handlers_own_timeout_is_a_failure_not_redis_going_away(
    redis, keys, stream, publish
) -> None:
    [(stream_id, _)] = await publish(1)

    async def handler(batch, tx) -> None:
        raise TimeoutError("the model did not answer")  # an OSError, like socket errors

    consumer = make(redis, stream, keys, handler, max_deliveries=2)
    stats = await asyncio.wait_for(consumer.run(burst=True), 30)
    assert stats.reconnects == 0 and stats.failures == 2 and stats.dead_lettered == 1
    [(_, dead)] = await redis.xrange(keys.dead_letter(stream))
    assert dead["source_id"] == stream_id and "the model did not answer" in dead["message"]


async def test_blocking_reads_end_before_the_clients_socket_timeout(
    redis_url, keys, stream
) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=0.5)
    try:
        consumer = make(client, stream, keys, Recorder("x"), block_ms=5_000)
        await consumer.ensure_group()
        consumer._read_own_pending = False
        assert await consumer.step() is False  # an idle, blocking read: no timeout error
        assert consumer.stats.reconnects == 0
    finally:
        await client.aclose()


async def test_read_ahead_batches_are_handled_before_a_stop_returns(
    redis, keys, stream, publish
) -> None:
    """The next batches are read in the same transaction as an ack; a stop still handles them."""
    published = await publish(14)
    recorder = Recorder(keys.analytics("fx"))
    consumer = make(redis, stream, keys, recorder, batch_size=4)
    await consumer.ensure_group()
    assert await consumer.step()  # own pending (none), then nothing else read
    assert await consumer.step()  # entries 1-4; with their ack, two batches read: 5-8, 9-12
    assert recorder.seen == [i for i, _ in published[:4]]
    assert (await redis.xpending(stream, "g"))["pending"] == 8
    assert await consumer.step()  # 5-8 (9-12 parsed meanwhile); 13-14 read with the ack
    assert (await redis.xpending(stream, "g"))["pending"] == 6
    consumer.stop()
    await consumer.run()
    # The batches read ahead were handled and acked; nothing more was read.
    assert recorder.seen == [i for i, _ in published]
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    await publish(2)
    stats = await make(redis, stream, keys, recorder, batch_size=4).run(burst=True)
    assert stats.handled == 2
    assert set((await effect_counts(redis, keys.analytics("fx"))).values()) == {1}


async def test_read_ahead_entries_survive_a_failed_commit(redis, keys, stream, publish) -> None:
    """EXEC runs the commands that do not fail: a read-ahead read there is not lost."""
    published = await publish(6)
    wrong = keys.analytics("not-a-hash")
    await redis.set(wrong, "x")
    calls = 0

    async def handler(batch, tx) -> None:
        nonlocal calls
        calls += 1
        for d in batch:
            tx.hincrby(keys.analytics("fx"), str(d.event.event_id), 1)
        if calls == 1:  # a runtime error inside EXEC: the read ahead after it still runs
            tx.hincrby(wrong, "f", 1)

    consumer = make(redis, stream, keys, handler, batch_size=3)
    await consumer.run(burst=True)
    counts = await effect_counts(redis, keys.analytics("fx"))
    assert set(counts) == {str(e.event_id) for _, e in published}
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_a_consumer_never_claims_its_own_batches_read_ahead(
    redis, keys, stream, publish
) -> None:
    """Entries read ahead are pending and idle until handled; a slow consumer whose claim
    time they outlast must not take them again (a second delivery, counted towards
    dead-lettering them, and work done twice)."""
    published = await publish(12)
    recorder = Recorder(keys.analytics("fx"))
    consumer = make(redis, stream, keys, recorder, batch_size=4, claim_idle_ms=0)
    await consumer.ensure_group()
    assert await consumer.step()  # own pending: none
    assert await consumer.step()  # 1-4 handled; 5-8 and 9-12 read ahead with the ack
    assert (await redis.xpending(stream, "g"))["pending"] == 8
    consumer._next_claim = 0.0  # a claim pass is due, and every pending entry is idle enough
    stats = await consumer.run(burst=True)
    assert stats.claimed == 0 and stats.duplicates == 0
    assert recorder.seen == [i for i, _ in published]  # each once, in order
    assert set((await effect_counts(redis, keys.analytics("fx"))).values()) == {1}
