"""The running scenario, kept in Redis so every process reads the same one."""

from __future__ import annotations

import redis.asyncio as aioredis

from scrai.keys import Keys
from scrai.scenario.model import Scenario


async def save_scenario(redis: aioredis.Redis, keys: Keys, scenario: Scenario) -> None:
    """Store the (expanded) scenario; the world system seeds from it."""
    await redis.set(keys.scenario, scenario.model_dump_json())


async def load_scenario(redis: aioredis.Redis, keys: Keys) -> Scenario | None:
    raw = await redis.get(keys.scenario)
    return Scenario.model_validate_json(raw) if raw else None
