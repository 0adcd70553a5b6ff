"""Redis clients, made one way for every process."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from scrai.settings import Settings


def connect(settings: Settings, *, block_ms: int | None = None) -> aioredis.Redis:
    """An asyncio client for ``settings.redis_url`` with string responses.

    ``block_ms``: the longest ``BLOCK`` this client will issue; its socket timeout is
    set well above it, so a blocking read never trips the client's own timeout.
    """
    if not settings.redis_url:
        raise RuntimeError("SCRAI_REDIS_URL is not set (scrai up starts an embedded server)")
    socket_timeout = 10.0 + (block_ms or 0) / 1000
    return aioredis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        # Retries here cover a single dropped connection; consumers add their own
        # capped backoff around whole loops for a server that is gone for longer.
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
    )
