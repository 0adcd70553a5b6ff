"""A small in-memory token bucket per client, for the control routes.

In memory on purpose: one API process serves a simulation, and the limit only
has to stop a flood of control requests, not account across processes.
"""

from __future__ import annotations

import time

from fastapi import HTTPException, Request, status


class RateLimit:
    """``burst`` requests at once per client, refilled at ``rate_per_s``."""

    def __init__(self, *, rate_per_s: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        if len(self._buckets) >= self.max_clients and client not in self._buckets:
            self._buckets.clear()  # bounded memory; forgetting grants a fresh burst, which is fine
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1.0, now)
        return True

    def reset(self) -> None:
        self._buckets.clear()


async def limit_control(request: Request) -> None:
    """Dependency: spend one token of the app's control limit, or answer 429."""
    limit: RateLimit = request.app.state.control_limit
    client = request.client.host if request.client else "unknown"
    if not limit.take(client):
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many control requests; slow down",
            headers={"Retry-After": str(max(1, round(1 / limit.rate_per_s)))},
        )
