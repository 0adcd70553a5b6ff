"""The live stream tells a listener which run of the world its messages belong to.

A reseeded world starts its ticks over on the same streams; the dashboard must start over
too, at exactly the first entry of the new run, however late or often it (re)connects.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import redis.asyncio as aioredis

from scrai.api.routes.live import RunWatch
from scrai.events import TickEvent, TickPayload
from scrai.keys import Keys
from tests.api.conftest import seed_world
from tests.api.test_live import messages


async def named(
    reader: AsyncIterator[dict[str, str]], until: str, timeout_s: float = 10
) -> list[dict]:
    """Named messages (data parsed, ``event`` kept as ``_event``) up to one of kind ``until``."""
    out: list[dict] = []

    async def run() -> None:
        async for m in reader:
            if "event" in m:
                out.append({"_event": m["event"], "_id": m.get("id"), **json.loads(m["data"])})
                if m["event"] == until:
                    return

    await asyncio.wait_for(run(), timeout_s)
    return out


async def reseed(redis: aioredis.Redis, keys: Keys, run_id: str) -> str:
    """What the world does on a reseed, as seen on the streams: a new run_id, then tick 1 again."""
    tick = TickEvent(
        entity_id="world",
        sequence=1,
        tick=1,
        payload=TickPayload(state="running", committed=0, agents_alive=0, duration_ms=1.0),
    )
    async with redis.pipeline(transaction=True) as tx:
        tx.hset(keys.world_meta, "run_id", run_id)
        tx.xadd(keys.committed_events, tick.to_fields())
        _, entry_id = await tx.execute()
    return entry_id


async def test_run_message_on_connect_on_reseed_and_before_the_new_runs_first_entry(
    live_server: str, redis: aioredis.Redis, keys: Keys
) -> None:
    seeded = await seed_world(redis, keys, ticks=2)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        async with http.stream("GET", "/api/live") as response:
            reader = messages(response)
            (hello,) = await named(reader, "run")
            assert hello["run_id"] == "run-1" and hello["scenario"] == "Test Town"
            assert hello["starts"] is False and hello["_id"] is None  # Last-Event-ID stays put

            first = await reseed(redis, keys, "run-2")
            got = await named(reader, "tick")
        assert [m["_event"] for m in got] == ["run", "tick"]
        assert got[0]["run_id"] == "run-2" and got[0]["starts"] is True
        assert got[1]["id"] == first and got[1]["tick"] == 1

        # A slow listener, still in run 1 when it reconnects, is told of run 2 on connect,
        # gets run 1's tail, and is told again exactly where run 2 begins.
        middle = seeded.committed_ids[1]
        headers = {"Last-Event-ID": f"{middle},0-0,0-0"}
        async with http.stream("GET", "/api/live", headers=headers) as response:
            reader = messages(response)
            got = await named(reader, "run")
            assert got[0]["run_id"] == "run-2" and got[0]["starts"] is False
            rest = []
            while not rest or rest[-1]["_event"] != "run":
                rest += await named(reader, "run")
            after = await named(reader, "tick")
        tail = [m["id"] for m in rest if m["_event"] in ("event", "tick")]
        assert tail == seeded.committed_ids[2:]
        assert rest[-1]["starts"] is True
        assert after[0]["id"] == first


async def test_reseed_seen_within_a_heartbeat_before_any_new_entry(
    live_server: str, redis: aioredis.Redis, keys: Keys
) -> None:
    await seed_world(redis, keys, ticks=1)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        async with http.stream("GET", "/api/live") as response:
            reader = messages(response)
            (hello,) = await named(reader, "run")
            assert hello["run_id"] == "run-1"
            # The world seeds the new run, then waits for its agents: no entry yet.
            await redis.hset(keys.world_meta, mapping={"run_id": "run-2", "scenario": "Other"})
            (told,) = await named(reader, "run", timeout_s=5)
        assert told["run_id"] == "run-2" and told["scenario"] == "Other"
        assert told["starts"] is False


def test_run_watch_finds_where_ticks_go_back() -> None:
    watch = RunWatch({"run_id": "a"}, closed=None)
    entries = [("committed", 1), ("tick", 1), ("committed", 2), ("tick", 2)]
    assert not any(watch.starts_new_run({"type": t, "tick": str(n)}) for t, n in entries)
    assert watch.closed == 2
    # A restarted world re-opens the tick that was open: not a new run.
    assert not watch.starts_new_run({"type": "world_state_committed", "tick": "3"})
    # A reseeded one starts again at tick 1 (an empty first tick is only its TickEvent).
    assert watch.starts_new_run({"type": "world_state_committed", "tick": "1"})
    assert watch.closed is None
    assert not watch.starts_new_run({"type": "tick", "tick": "1"})
    fresh = RunWatch({}, closed=5)
    assert fresh.starts_new_run({"type": "tick", "tick": "1"}) and fresh.closed == 1
    assert not fresh.starts_new_run({"type": "tick", "tick": "oops"})
