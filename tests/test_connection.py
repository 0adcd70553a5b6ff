"""The shared Redis client: a cancelled task stops, whatever command it was in."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError

from scrai.connection import connect
from scrai.settings import Settings


async def test_cancel_always_stops_a_task_busy_with_redis(settings):
    # Python 3.11's asyncio.wait_for, which redis-py uses to time out a send, could drop
    # a cancellation that arrived as the send finished, and the "cancelled" task ran on.
    client = connect(settings, block_ms=100)
    key = f"{settings.namespace}:probe"

    async def busy() -> None:
        while True:
            await client.hgetall(key)
            await client.set(key + ":x", 1)
            await asyncio.sleep(random.random() / 1000)

    rng = random.Random(7)
    try:
        for _ in range(300):
            task = asyncio.create_task(busy())
            await asyncio.sleep(rng.random() / 100)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=5)
            if not done:
                task.cancel()
                pytest.fail("a cancelled task kept running its Redis loop")
            assert task.cancelled()
    finally:
        await client.aclose()


class ReplyDropper:
    """A TCP proxy to Redis that, once, forwards a request holding ``marker`` and then
    closes the client's connection instead of passing on the server's reply: the
    server applied the request, the client cannot know it."""

    def __init__(self, target: str, marker: bytes) -> None:
        parsed = urlparse(target)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        self.marker = marker
        self.dropped = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(self.host, self.port)

        async def replies() -> None:
            while data := await server_r.read(65536):
                client_w.write(data)
                await client_w.drain()

        pump = asyncio.create_task(replies())
        try:
            while data := await client_r.read(65536):
                if self.marker in data and not self.dropped:
                    self.dropped += 1
                    pump.cancel()
                    await asyncio.gather(pump, return_exceptions=True)
                    server_w.write(data)
                    await server_w.drain()
                    await server_r.read(65536)  # the reply: the server has applied it
                    break
                server_w.write(data)
                await server_w.drain()
        finally:
            pump.cancel()
            client_w.close()
            server_w.close()


@contextlib.asynccontextmanager
async def client_through(
    settings: Settings, dropper: ReplyDropper
) -> AsyncIterator[aioredis.Redis]:
    """A client of ours whose connections go through ``dropper``."""
    async with dropper as url:
        client = connect(settings.model_copy(update={"redis_url": url}))
        try:
            yield client
        finally:
            await client.aclose()


async def test_a_transaction_whose_reply_is_lost_is_not_sent_again(settings, redis):
    # Re-sending it after a lost reply would apply it twice: two copies of a committed tick.
    stream = f"{settings.namespace}:log"
    dropper = ReplyDropper(settings.redis_url or "", b"EXEC")
    async with client_through(settings, dropper) as client:
        with pytest.raises(ConnectionError):
            async with client.pipeline(transaction=True) as tx:
                tx.xadd(stream, {"n": "1"})
                await tx.execute()
        assert dropper.dropped == 1
        assert await redis.xlen(stream) == 1
        # The caller reads back what Redis has, on the same client: it works again.
        assert await client.xlen(stream) == 1


async def test_a_read_whose_reply_is_lost_is_retried(settings, redis):
    # Idempotent commands keep the client's retries: one dropped connection is no error.
    key = f"{settings.namespace}:greeting"
    await redis.set(key, "hello")
    dropper = ReplyDropper(settings.redis_url or "", key.encode())
    async with client_through(settings, dropper) as client:
        assert await client.get(key) == "hello"
        assert dropper.dropped == 1
