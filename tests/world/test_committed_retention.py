"""SCRAI_COMMITTED_RETENTION_MAX_LEN: the committed log bounded, never past a reader."""

from __future__ import annotations

from analytics.rebuild import rebuild
from scrai.events import Idle
from scrai.scenario.store import save_scenario
from scrai.world import system
from tests.helpers import wait_for
from tests.scenarios import line_town
from tests.world.driver import Cast, running_world
from tests.world.test_clock import playing

AGENTS = ["alice", "bob", "carol", "dan", "eve"]
KEEP = 1_000


async def test_the_committed_log_is_trimmed_only_past_its_readers(
    redis, keys, settings, monkeypatch
):
    monkeypatch.setattr(system, "TRIM_EVERY_S", 0.1)
    settings = settings.model_copy(
        update={"committed_retention_max_len": KEEP, "world_max_consumer_lag_ticks": 0}
    )
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    stream = keys.committed_events
    await redis.xgroup_create(stream, "analytics", id="0", mkstream=True)
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings), playing(cast):
        # A reader that has read the first 100 entries and stopped there.
        await wait_for(lambda: _length_at_least(redis, stream, 100), timeout_s=30)
        first_read = await redis.xreadgroup("analytics", "r", {stream: ">"}, count=100)
        read_ids = [entry_id for entry_id, _ in first_read[0][1]]
        await redis.xack(stream, "analytics", *read_ids)
        await wait_for(lambda: _added_at_least(redis, stream, KEEP * 3 // 2), timeout_s=60)
        # Past the retention, trims every 0.1 s: what the reader read may go, nothing else.
        info = await redis.xinfo_stream(stream)
        assert info["entries-added"] - info["length"] <= len(read_ids)

        # The reader catches up: the log goes back to about its retention.
        entries = await redis.xreadgroup("analytics", "r", {stream: ">"}, count=1_000_000)
        await redis.xack(stream, "analytics", *[i for i, _ in entries[0][1]])
        await wait_for(lambda: _trimmed_to(redis, stream, 2 * KEEP), timeout_s=30)

    report = await rebuild(redis, keys, replace=True)
    assert report.trimmed > 0
    assert not report.swapped  # tables rebuilt from a trimmed log would miss its start


async def _added_at_least(redis, stream: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    return (await redis.xinfo_stream(stream))["entries-added"] >= n


async def _length_at_least(redis, stream: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await redis.xlen(stream) >= n


async def _trimmed_to(redis, stream: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    info = await redis.xinfo_stream(stream)
    return info["length"] <= n < info["entries-added"]
