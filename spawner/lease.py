"""One spawner per namespace, and patience with Redis and the engine.

Two spawners adopting the same run would both see a worker missing and both
start it. The :class:`Lease` (a key with a short TTL that its holder keeps
renewing) makes the second one wait; a crashed holder's lease runs out after
``ttl_s``, so its successor takes over within that time. :func:`until` retries
a step through Redis or Docker being away for a while, with capped backoff.

A lease that lapses while Redis is away is not lost: the holder keeps its
workers, does nothing to them until it holds the lease again (:meth:`Lease.held`),
and takes it back when Redis returns, unless another spawner was quicker (then
that one adopts the workers; nothing is stopped, nothing is started twice).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

log = logging.getLogger("spawner")

# Renew or release only the lease we hold (compare-and-set on the token).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    def __init__(self, redis: aioredis.Redis, key: str, ttl_s: float) -> None:
        self.redis, self.key, self.ttl_ms = redis, key, int(ttl_s * 1000)
        self.token = secrets.token_hex(8)
        self._held_until = 0.0  # monotonic; a lease is ours until then at the latest

    def held(self) -> bool:
        """Whether the lease is surely still ours (renewed less than ``ttl_s`` ago)."""
        return time.monotonic() < self._held_until

    async def acquire(self) -> bool:
        """Take the lease if free (or already ours); False while another spawner holds it."""
        asked = time.monotonic()  # before the command: the server's TTL starts later
        if await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self._held_until = asked + self.ttl_ms / 1000
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend our lease; False if it is not ours (lapsed, or taken by another)."""
        asked = time.monotonic()
        if await self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
            self._held_until = asked + self.ttl_ms / 1000
            return True
        return False

    async def keep(self) -> bool:
        """Renew, or take the lease back if it lapsed and nobody took it; False: another has it."""
        if await self.renew():
            return True
        if await self.acquire():
            log.warning("the spawner lease had lapsed (Redis away?); taken back")
            return True
        return False

    async def holder(self) -> str | None:
        token = await self.redis.get(self.key)
        return None if token is None else str(token)

    async def release(self) -> None:
        await self.redis.eval(_RELEASE, 1, self.key, self.token)
        self._held_until = 0.0


class Retry(Exception):
    """Not yet: try the step again later."""


async def wait(stop: asyncio.Event | None, timeout_s: float) -> None:
    """Wait ``timeout_s`` or until ``stop`` is set, whichever comes first."""
    if stop is None:
        await asyncio.sleep(timeout_s)
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout_s)
    except TimeoutError:
        pass


def _retryable() -> tuple[type[Exception], ...]:
    """Errors a retry may cure. The engine's only once a Docker backend loaded its SDK:
    the process backend does without it (a sixth of the spawner's start-up)."""
    docker_errors = sys.modules.get("docker.errors")
    engine = (docker_errors.DockerException,) if docker_errors else ()
    return (OSError, aioredis.RedisError, *engine)


async def until(
    stop: asyncio.Event,
    step: Callable[[], Awaitable[object]],
    *,
    max_backoff_s: float,
    forced: bool = False,
) -> bool:
    """Run ``step()`` until it succeeds, retrying Redis and engine errors with capped backoff.

    False when ``stop`` was set first; ``forced`` (the final cleanup) keeps trying while
    the backoff is below its cap, whatever ``stop`` says.
    """
    delay = 0.2
    while forced or not stop.is_set():
        try:
            await step()
            return True
        except Retry:
            pass
        except _retryable() as exc:
            log.warning("retrying in %.1fs: %r", delay, exc)
        if forced and delay >= max_backoff_s:
            log.error("giving up")
            return False
        await wait(None if forced else stop, delay)
        delay = min(delay * 2, max_backoff_s)
    return False
