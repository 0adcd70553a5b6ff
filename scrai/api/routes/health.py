"""``GET /healthz``: is Redis answering, is the world system alive."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from scrai.api.deps import KeysDep, RedisDep
from scrai.api.streams import decode_hash_json

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness of the API, Redis and the world system")
async def healthz(redis: RedisDep, keys: KeysDep) -> JSONResponse:
    """200 while Redis answers (``world`` tells whether the world system's heartbeat is fresh);
    503 when Redis does not answer."""
    body: dict[str, Any] = {"status": "ok", "redis": True, "world": None}
    try:
        await redis.ping()
        world = await redis.get(keys.health("world"))
    except (RedisError, OSError) as exc:
        body.update(status="unavailable", redis=False, error=type(exc).__name__)
        return JSONResponse(body, status_code=503)
    if world is None:
        body["status"] = "degraded"  # API up, world system not (yet) beating
    else:
        body["world"] = decode_hash_json({"v": world})["v"]
    return JSONResponse(body)
