"""Dependencies every router shares: settings, keys, the Redis client, the bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import load_scenario
from scrai.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="SCRAI_API_TOKEN, as printed by `scrai up`")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_keys(request: Request) -> Keys:
    return request.app.state.keys


def get_redis(request: Request) -> aioredis.Redis:
    return request.app.state.redis


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[Keys, Depends(get_keys)]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse the request unless it carries ``Authorization: Bearer <SCRAI_API_TOKEN>``.

    With no token configured nothing is allowed: an API without a token is read-only.
    """
    expected = settings.api_token
    given = credentials.credentials if credentials else ""
    # compare_digest: the time taken does not tell how much of the token matched.
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="a valid bearer token is required (the one `scrai up` printed)",
            headers={"WWW-Authenticate": "Bearer"},
        )


TokenDep = Depends(require_token)


async def get_scenario(request: Request, redis: RedisDep, keys: KeysDep) -> Scenario | None:
    """The running scenario, parsed once per seeded run (it can be megabytes for big casts)."""
    meta = await redis.hmget(keys.world_meta, "run_id", "seeded_at")
    stamp = tuple(meta) if any(meta) else None
    cached = getattr(request.app.state, "scenario_cache", None)
    if stamp is not None and cached is not None and cached[0] == stamp:
        return cached[1]
    scenario = await load_scenario(redis, keys)
    if stamp is not None:
        request.app.state.scenario_cache = (stamp, scenario)
    return scenario


ScenarioDep = Annotated[Scenario | None, Depends(get_scenario)]
