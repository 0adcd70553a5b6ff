"""Backpressure: the clock waits for a live reader of the committed log that falls behind."""

from __future__ import annotations

import json

import pytest

from scrai.events import Idle
from scrai.scenario.store import save_scenario
from scrai.status import read_status
from scrai.world.state import load_clock
from tests.helpers import wait_for
from tests.scenarios import line_town
from tests.world.driver import Cast, running_world
from tests.world.test_clock import playing

AGENTS = ["alice", "bob", "carol", "dan", "eve"]
PER_TICK = len(AGENTS) + 1  # a committed event per agent and the TickEvent
MAX_LAG_TICKS = 3
LIMIT = MAX_LAG_TICKS * PER_TICK


async def lag(redis, keys, group: str) -> int:  # type: ignore[no-untyped-def]
    info = {g["name"]: g for g in await redis.xinfo_groups(keys.committed_events)}
    return int(info[group]["lag"])


async def closed(redis, keys) -> int:  # type: ignore[no-untyped-def]
    clock = await load_clock(redis, keys)
    return clock.last_closed if clock else -1


async def stalled_reader(redis, keys, group: str) -> None:  # type: ignore[no-untyped-def]
    """A reader that reads one entry and then nothing: live (it just read), and falling behind.

    Called with the world running: Redis before 7.2 makes a consumer only when a read
    delivers something, so the reader waits for the first entry.
    """
    await wait_for(lambda: redis.xlen(keys.committed_events), timeout_s=30)
    await redis.xreadgroup(group, "reader-1", {keys.committed_events: ">"}, count=1)


async def test_the_clock_waits_for_a_live_reader_that_falls_behind(redis, keys, settings):
    # The reader stays live (the test's default claim time is 1 s; a loaded machine can
    # take longer than that to hold the clock).
    settings = settings.model_copy(
        update={"world_max_consumer_lag_ticks": MAX_LAG_TICKS, "consumer_claim_idle_ms": 600_000}
    )
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    await redis.xgroup_create(keys.committed_events, "memory", id="0", mkstream=True)
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings) as world, playing(cast):
        await stalled_reader(redis, keys, "memory")
        await wait_for(lambda: world.pacing.waiting_for == ["memory"], timeout_s=30)
        held_at = await closed(redis, keys)
        # Held: never more than the limit plus the tick in flight when the lag was read.
        assert await lag(redis, keys, "memory") <= LIMIT + 2 * PER_TICK
        await wait_for(
            lambda: _world_health(redis, keys, lambda h: h.get("waiting_for") == ["memory"]),
            timeout_s=10,
        )
        status = await read_status(redis, keys)
        assert status.waiting_for == ["memory"]
        assert await closed(redis, keys) <= held_at + 1

        # The reader catches up: the clock goes on, and is held again further on.
        entries = await redis.xreadgroup(
            "memory", "reader-1", {keys.committed_events: ">"}, count=10_000
        )
        ids = [entry_id for _, batch in entries for entry_id, _ in batch]
        await redis.xack(keys.committed_events, "memory", *ids)
        await wait_for(lambda: _closed_at_least(redis, keys, held_at + MAX_LAG_TICKS), 30)
        await wait_for(lambda: world.pacing.waiting_for == ["memory"], timeout_s=30)
        assert await lag(redis, keys, "memory") <= LIMIT + 2 * PER_TICK


@pytest.mark.parametrize(
    ("group", "idle_ms"),
    [
        ("memory", 100),  # paced, but its consumer is gone (idle past claim_idle_ms)
        ("dashboard-export", 30_000),  # live, but not a paced group
    ],
)
async def test_the_clock_does_not_wait_for_a_dead_or_unpaced_reader(
    redis, keys, settings, group, idle_ms
):
    settings = settings.model_copy(
        update={"world_max_consumer_lag_ticks": MAX_LAG_TICKS, "consumer_claim_idle_ms": idle_ms}
    )
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    await redis.xgroup_create(keys.committed_events, group, id="0", mkstream=True)
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings) as world, playing(cast):
        await stalled_reader(redis, keys, group)
        await wait_for(lambda: _closed_at_least(redis, keys, 4 * MAX_LAG_TICKS), timeout_s=30)
        assert await lag(redis, keys, group) > LIMIT + 2 * PER_TICK
        assert world.pacing.waiting_for == []


async def _closed_at_least(redis, keys, tick: int) -> bool:  # type: ignore[no-untyped-def]
    return await closed(redis, keys) >= tick


async def _world_health(redis, keys, ok):  # type: ignore[no-untyped-def]
    raw = await redis.get(keys.health("world"))
    health = json.loads(raw) if raw else {}
    return health if ok(health) else None
