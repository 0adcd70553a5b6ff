"""One spawner per namespace: a lease key with a short TTL that its holder keeps renewing.

Two spawners adopting the same run would both see a worker missing and both
start it. The lease makes the second one wait; a crashed holder's lease runs
out after ``ttl_s``, so its successor takes over within that time.
"""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

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

    async def acquire(self) -> bool:
        """Take the lease if free (or already ours); False while another spawner holds it."""
        if await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend our lease; False if it was lost (expired and taken by another)."""
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    async def holder(self) -> str | None:
        return await self.redis.get(self.key)

    async def release(self) -> None:
        await self.redis.eval(_RELEASE, 1, self.key, self.token)
