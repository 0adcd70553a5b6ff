"""Helpers for analytics tests against the real server: a seeded run on the streams, the tables."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI

from analytics.api import router
from analytics.ingest import AnalyticsState
from analytics.state import dump
from analytics.system import AnalyticsSystem
from scrai.bus import publish_many
from scrai.keys import Keys
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from tests.analytics.synth import World

TABLE_NAMES = ("nodes", "edges", "movement", "places", "objects")


async def publish_run(
    redis: aioredis.Redis, keys: Keys, world: World, *, scenario: bool = True
) -> None:
    if scenario:
        await save_scenario(redis, keys, world.scenario)
    await publish_many(redis, keys.committed_events, world.committed)
    if world.rejected:
        await publish_many(redis, keys.rejected_events, world.rejected)


async def drain(redis: aioredis.Redis, keys: Keys, settings: Settings) -> AnalyticsSystem:
    """Run the AnalyticsSystem in burst mode: fold everything on both streams, then metrics once."""
    system = AnalyticsSystem(redis, keys, settings)
    await system.run(asyncio.Event(), burst=True)
    return system


def app_for(redis: aioredis.Redis, keys: Keys, settings: Settings) -> FastAPI:
    """A minimal app with the analytics router and the state ``create_app``'s lifespan sets."""
    app = FastAPI()
    app.include_router(router)
    app.state.redis, app.state.keys, app.state.settings = redis, keys, settings
    return app


async def stored_tables(redis: aioredis.Redis, keys: Keys) -> dict[str, dict[str, Any]]:
    out = {}
    for name in TABLE_NAMES:
        raw = await redis.hgetall(keys.analytics(name))
        out[name] = {k: json.loads(v) for k, v in raw.items()}
    out["rejections"] = {
        k: int(v) for k, v in (await redis.hgetall(keys.analytics("rejections"))).items()
    }
    meta = await redis.hgetall(keys.analytics("meta"))
    out["meta"] = {k: meta.get(k) for k in ("position", "tick", "events")}
    return out


def folded_tables(world: World, stream_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What an uninterrupted fold of the whole log gives, in the stored form."""
    from analytics.rejections import count_rejections

    state = AnalyticsState.seeded(world.scenario)
    for stream_id, event in zip(stream_ids, world.committed, strict=True):
        state.apply(stream_id, event)
    out: dict[str, dict[str, Any]] = {}
    for name in TABLE_NAMES:
        out[name] = {k: json.loads(dump(v)) for k, v in state.table(name).items()}
    out["rejections"] = count_rejections([("", e) for e in world.rejected])[0]
    out["meta"] = {
        "position": state.meta.position,
        "tick": str(state.meta.tick),
        "events": str(state.meta.events),
    }
    return out
