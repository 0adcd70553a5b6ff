"""The shared Redis client: a cancelled task stops, whatever command it was in."""

from __future__ import annotations

import asyncio
import random

import pytest

from scrai.connection import connect


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
