"""Small helpers shared by the test suite."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from scrai.events import ActionEvent, ActionPayload, Idle

T = TypeVar("T")

Condition = Callable[[], T | Awaitable[T]]


async def wait_for(cond: Condition[T], timeout_s: float = 10.0, *, interval_s: float = 0.01) -> T:
    """Poll ``cond`` (sync or async) until it returns something truthy; return that value.

    Fails the test with ``TimeoutError`` after ``timeout_s``. This awaits a condition,
    it does not sleep for a guessed time: it returns as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        result = cond()
        last = await result if inspect.isawaitable(result) else result  # type: ignore[assignment]
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met in {timeout_s}s (last value: {last!r})")
        await asyncio.sleep(interval_s)


def idle_events(n: int, *, start: int = 1) -> list[ActionEvent]:
    """``n`` distinct idle action events (sequence/tick ``start``..), for filling streams."""
    return [
        ActionEvent(
            entity_id=f"agent-{i % 7}", sequence=i, tick=i, payload=ActionPayload(action=Idle())
        )
        for i in range(start, start + n)
    ]
