"""Fixtures for the bus tests: a unique stream per test and a way to fill it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from scrai.bus import publish_many
from scrai.events import ActionEvent
from scrai.keys import Keys
from tests.helpers import idle_events

Publish = Callable[[int], Awaitable[list[tuple[str, ActionEvent]]]]


@pytest.fixture
def stream(keys: Keys) -> str:
    return keys.action_events


@pytest.fixture
def publish(redis: aioredis.Redis, stream: str) -> Publish:
    """``await publish(n)``: append ``n`` fresh idle events; returns (stream id, event) pairs."""
    counter = 0

    async def _publish(n: int) -> list[tuple[str, ActionEvent]]:
        nonlocal counter
        events = idle_events(n, start=counter + 1)
        counter += n
        ids = await publish_many(redis, stream, events)
        return list(zip(ids, events, strict=True))

    return _publish
