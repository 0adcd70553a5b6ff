"""Backpressure: the clock waits for the readers of the committed log.

The world commits a tick as soon as its agents have answered. When a reader of
``world_state_committed_events`` cannot keep up (the memory consolidator of a large
crowd on a small machine), nothing else would stop it falling further behind each
tick: its lag would grow for as long as the run lasts, agents would recall ever
older memories, and the dashboard would show an ever older town.

So before it opens a tick the world looks at the lag of the paced groups (entries
added to the stream but not yet read by the group) and holds the clock while one of
them is more than ``max_lag_ticks`` ticks' worth of entries behind. The simulation
then runs at the pace of its slowest reader, with a bounded lag, instead of at the
pace of its fastest writer.

Only a group with a live consumer holds the clock: one that has not read for
``live_idle_ms`` (the time after which the bus deems a consumer dead) is down, which
is the supervisor's business; a world that stopped for every dead reader would stop
for good when a service is not part of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.05  # the lag is read at most this often (one XINFO GROUPS)


class ConsumerPacing:
    """Which paced groups hold the clock. Reads Redis at most every 50 ms; in between it
    adds what the world wrote since (:meth:`wrote`) to the lags it last read, so a world
    closing ticks in milliseconds overshoots the limit by one tick at most."""

    def __init__(
        self,
        redis: aioredis.Redis,
        stream: str,
        groups: Iterable[str],
        *,
        max_lag_ticks: int,
        live_idle_ms: int,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.groups = frozenset(groups)
        self.max_lag_ticks = max_lag_ticks
        self.live_idle_ms = live_idle_ms
        self.waiting_for: list[str] = []  # the groups holding the clock at the last look
        self._lags: dict[str, int] = {}  # live paced groups -> lag at the last read
        self._written = 0  # entries the world added since then
        self._read_at = float("-inf")

    @property
    def enabled(self) -> bool:
        return self.max_lag_ticks > 0 and bool(self.groups)

    def wrote(self, entries: int) -> None:
        """The world added ``entries`` to the stream."""
        self._written += entries

    async def held(self, entries_per_tick: int, now: float) -> bool:
        """True while a live paced group is more than ``max_lag_ticks`` ticks behind."""
        if not self.enabled:
            return False
        if now - self._read_at >= CHECK_EVERY_S:
            self._read_at = now
            self._lags, self._written = await self._read_lags(), 0
        limit = self.max_lag_ticks * entries_per_tick
        behind = sorted(g for g, lag in self._lags.items() if lag + self._written > limit)
        if behind != self.waiting_for:
            if behind:
                log.info(
                    "holding the clock: %s more than %d ticks behind",
                    ", ".join(behind),
                    self.max_lag_ticks,
                )
            else:
                log.info("readers caught up: the clock goes on")
            self.waiting_for = behind
        return bool(behind)

    async def _read_lags(self) -> dict[str, int]:
        try:
            infos = await self.redis.xinfo_groups(self.stream)
        except ResponseError:  # no stream yet: nobody to wait for
            return {}
        lags = {}
        for info in infos:
            name, lag = str(info["name"]), info.get("lag")
            # lag is None when the server cannot tell (entries deleted past the group):
            # then the group is not known to be behind, and the clock is not held on a guess.
            if name in self.groups and lag is not None and await self._live(name):
                lags[name] = int(lag)
        return lags

    async def _live(self, group: str) -> bool:
        consumers = await self.redis.xinfo_consumers(self.stream, group)
        return any(int(c["idle"]) < self.live_idle_ms for c in consumers)
