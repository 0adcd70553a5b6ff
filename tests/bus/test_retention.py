"""Retention: trim what every group has read and acked, never an entry a group still needs."""

from __future__ import annotations

import random

from scrai.bus import safe_trim_point, trim
from scrai.bus.retention import parse_id


async def ids_in(redis, stream) -> list[str]:
    return [i for i, _ in await redis.xrange(stream)]


async def read(redis, stream, group, n) -> list[str]:
    reply = await redis.xreadgroup(group, "c", {stream: ">"}, count=n)
    return [i for i, _ in reply[0][1]] if reply else []


async def test_without_groups_trims_to_the_length(redis, stream, publish) -> None:
    ids = [i for i, _ in await publish(50)]
    assert await safe_trim_point(redis, stream) is None
    assert await trim(redis, stream, 20) == 30
    assert await ids_in(redis, stream) == ids[30:]
    assert await trim(redis, stream, 20) == 0  # within bounds: nothing to do
    assert await trim(redis, stream, 0) == 20
    assert await redis.xlen(stream) == 0


async def test_never_trims_what_a_group_has_not_read_or_acked(redis, stream, publish) -> None:
    ids = [i for i, _ in await publish(100)]
    await redis.xgroup_create(stream, "fast", id="0")
    await redis.xgroup_create(stream, "slow", id="0")
    await redis.xgroup_create(stream, "idle", id="0")
    assert await trim(redis, stream, 10) == 0  # "idle" has read nothing yet

    await redis.xgroup_destroy(stream, "idle")
    await redis.xack(stream, "fast", *await read(redis, stream, "fast", 100))
    slow = await read(redis, stream, "slow", 30)
    await redis.xack(stream, "slow", *slow[:20])  # 21..30 read but still pending

    assert await trim(redis, stream, 10) == 20
    assert await ids_in(redis, stream) == ids[20:]
    pending = await redis.xpending_range(stream, "slow", "-", "+", 100)
    assert [p["message_id"] for p in pending] == ids[20:30]
    assert len(await redis.xrange(stream, ids[20], ids[29])) == 10  # still readable

    await redis.xack(stream, "slow", *slow[20:])
    assert await trim(redis, stream, 10) == 10  # now read and acked up to 30
    assert await ids_in(redis, stream) == ids[30:]

    await redis.xack(stream, "slow", *await read(redis, stream, "slow", 100))
    assert await trim(redis, stream, 10) == 60  # everyone is done: down to the length
    assert await ids_in(redis, stream) == ids[90:]


async def test_random_histories_keep_exactly_what_some_group_needs(redis, stream, publish) -> None:
    ids = [i for i, _ in await publish(300)]
    rng = random.Random(7)
    groups = [f"g{n}" for n in range(3)]
    for group in groups:
        await redis.xgroup_create(stream, group, id="0")
    needed: dict[str, set[str]] = {g: set(ids) for g in groups}
    for _round in range(20):
        group = rng.choice(groups)
        got = await read(redis, stream, group, rng.randint(1, 40))
        acked = [i for i in got if rng.random() < 0.8]
        if acked:
            await redis.xack(stream, group, *acked)
        needed[group] -= set(acked)
        await trim(redis, stream, 0)
        kept = set(await ids_in(redis, stream))
        must_keep = set().union(*needed.values())
        assert must_keep <= kept  # never drops an entry some group still needs
        # and trims every entry below the lowest one still needed.
        if must_keep:
            assert min(kept, key=parse_id) == min(must_keep, key=parse_id)
        else:
            assert not kept
