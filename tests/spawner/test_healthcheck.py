"""The container healthcheck against the real server: fresh alive entry or heartbeat key."""

from __future__ import annotations

import subprocess
import sys
import time

import redis.asyncio as aioredis

from scrai.keys import Keys


def probe(env: dict[str, str], *args: str) -> int:
    command = [sys.executable, "-m", "spawner.healthcheck", *args]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


async def test_an_agent_is_healthy_while_its_alive_entry_is_fresh(
    redis: aioredis.Redis, keys: Keys, subprocess_env: dict[str, str]
) -> None:
    assert probe(subprocess_env, "ann") == 1
    await redis.zadd(keys.agents_alive, {"ann": time.time() + 30})
    assert probe(subprocess_env, "ann") == 0
    await redis.zadd(keys.agents_alive, {"ann": time.time() - 1})
    assert probe(subprocess_env, "ann") == 1


async def test_a_service_is_healthy_while_its_heartbeat_key_exists(
    redis: aioredis.Redis, keys: Keys, subprocess_env: dict[str, str]
) -> None:
    assert probe(subprocess_env, "--component", "world") == 1
    await redis.set(keys.health("world"), "{}", ex=30)
    assert probe(subprocess_env, "--component", "world") == 0


def test_no_redis_is_unhealthy(subprocess_env: dict[str, str]) -> None:
    env = dict(subprocess_env, SCRAI_REDIS_URL="redis://127.0.0.1:1/0")
    assert probe(env, "ann") == 1
