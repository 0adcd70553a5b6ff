"""``scrai status`` against the real server: clock, agents alive, lag, pending, dead letters."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio as aioredis

from scrai.keys import Keys
from scrai.settings import Settings
from scrai.status import format_status, read_status
from tests.helpers import idle_events


async def _populate(redis: aioredis.Redis, keys: Keys) -> None:
    """A run mid-flight: 5 actions, the world has read 2 and acked none; one dead letter."""
    await redis.hset(
        keys.clock, mapping={"tick": 7, "last_closed": 6, "state": "running", "speed": 2}
    )
    await redis.hset(keys.world_meta, mapping={"scenario": "Village", "run_id": "r1"})
    now = time.time()
    await redis.zadd(keys.agents_alive, {"a": now + 60, "b": now + 60, "c": now - 60})
    for event in idle_events(5):
        await redis.xadd(keys.action_events, event.to_fields())
    await redis.xgroup_create(keys.action_events, "world", id="0")
    await redis.xreadgroup("world", "world-1", {keys.action_events: ">"}, count=2)
    await redis.xadd(keys.dead_letter(keys.committed_events), {"reason": "unreadable"})


async def test_status_reads_clock_agents_lag_pending_and_dead_letters(
    redis: aioredis.Redis, keys: Keys
) -> None:
    await _populate(redis, keys)
    status = await read_status(redis, keys)
    assert (status.tick, status.last_closed, status.state, status.speed) == (7, 6, "running", 2.0)
    assert (status.scenario, status.run_id) == ("Village", "r1")
    assert (status.agents_alive, status.agents_known) == (2, 3)
    streams = {s.name: s for s in status.streams}
    actions = streams[keys.action_events]
    assert actions.length == 5 and actions.dead_letters == 0
    [group] = actions.groups
    assert (group.name, group.consumers, group.pending, group.lag) == ("world", 1, 2, 3)
    committed = streams[keys.committed_events]
    assert (committed.length, committed.dead_letters, committed.groups) == (0, 1, [])
    text = "\n".join(format_status(status))
    assert "tick 7 (last closed 6) running" in text and "world: 3 / 2 (1)" in text


async def test_status_of_an_empty_namespace(redis: aioredis.Redis, keys: Keys) -> None:
    status = await read_status(redis, keys)
    assert status.tick is None and status.state == "not started"
    assert all(s.length == 0 and not s.groups for s in status.streams)


async def test_status_command_prints_json_for_the_given_redis_and_namespace(
    redis: aioredis.Redis, keys: Keys, settings: Settings, subprocess_env: dict[str, str]
) -> None:
    await _populate(redis, keys)
    env = {
        k: v for k, v in subprocess_env.items() if k not in ("SCRAI_REDIS_URL", "SCRAI_NAMESPACE")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrai", "status", "--json",
        "--redis-url", settings.redis_url or "", "--namespace", keys.namespace,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    data = json.loads(out)
    assert data["tick"] == 7 and data["agents_alive"] == 2
    groups = {s["name"]: s["groups"] for s in data["streams"]}[keys.action_events]
    assert groups == [
        {
            "name": "world",
            "consumers": 1,
            "pending": 2,
            "lag": 3,
            "last_delivered": groups[0]["last_delivered"],
        }
    ]


async def test_status_command_without_redis_says_how_to_give_one(
    subprocess_env: dict[str, str],
) -> None:
    env = {k: v for k, v in subprocess_env.items() if k != "SCRAI_REDIS_URL"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrai", "status",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"SCRAI_REDIS_URL" in err


async def test_status_says_which_readers_hold_the_clock(redis: aioredis.Redis, keys: Keys) -> None:
    # The world's health names the groups its backpressure waits for (scrai/world/pacing.py).
    await redis.set(keys.health("world"), json.dumps({"tick": 7, "waiting_for": ["memory"]}))
    status = await read_status(redis, keys)
    assert status.waiting_for == ["memory"]
    assert any("held for memory to catch up" in line for line in format_status(status))

    await redis.set(keys.health("world"), json.dumps({"tick": 8, "waiting_for": []}))
    status = await read_status(redis, keys)
    assert status.waiting_for == []
    assert not any("held for" in line for line in format_status(status))
