"""The AnalyticsSystem: the long-running consumer that keeps the social graph tables.

It folds ``world_state_committed_events`` (group ``analytics``) into the tables
and ``world_state_rejected_events`` into rejection counters. Each batch's table
changes, the stream position and the ack go in one MULTI/EXEC (the consumer
adds the ack), so a SIGKILL at any moment loses nothing and counts nothing twice.

The tables always equal the fold of every stream entry up to the stored
position. Before a batch the system checks that: when the stored position is not
the one it holds in memory (the last transaction did not commit, or a rebuild
swapped the tables) it reloads the tables; entries between the position and the
batch (already acknowledged, e.g. after a rebuild) are read with XRANGE and
folded first; entries at or before the position are skipped. One analytics
process per namespace.

When ticks go back (the world was seeded again, ``scrai up --reseed``: a new run
on the same stream), the tables start over from the scenario stored then, and the
old run's keys (tables, snapshots, metrics, insights) are deleted in the MULTI/EXEC
that stores the new run's first batch, so the tables hold the last run only, as a
rebuild does. The rejection counters follow the same rule by tick.

Metrics and insights are computed by a background task every
``metrics_interval_s`` (igraph in a separate process, so ingestion keeps the
interpreter), never on a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from analytics import centrality
from analytics import graph as graphs
from analytics.ingest import AnalyticsState, event_ids
from analytics.insights import View, detect
from analytics.metrics import UPDATES_MAX_LEN, metrics_pool, rivals_of, store_metrics
from analytics.rejections import queue_rejections
from analytics.tables import (
    load_state,
    queue_save,
    read_rejection_evidence,
    read_rejections,
    run_keys,
)
from scrai.bus import Consumer, Delivery
from scrai.bus.consumer import TRANSIENT
from scrai.bus.retention import parse_id
from scrai.events import EventError, parse_event
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import load_scenario
from scrai.settings import Settings

log = logging.getLogger(__name__)

GROUP = "analytics"
YOUNG_COLLECTION_EVERY = 20_000  # allocations between young cycle collections (default 700)
STOP_GRACE_S = 10.0


class AnalyticsSystem:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        settings: Settings,
        *,
        consumer_name: str = "analytics-1",
        freeze_heap: bool = False,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.consumer_name = consumer_name
        self.freeze_heap = freeze_heap
        self.scenario: Scenario | None = None
        self.state: AnalyticsState | None = None
        self.previous_communities: list[list[str]] | None = None
        self._metrics_mark: tuple[int, int] | None = None
        self.reloads = 0
        self._pool: ProcessPoolExecutor | None = None
        self.committed = self._consumer(keys.committed_events, self.handle)
        self.rejected = self._consumer(keys.rejected_events, self.handle_rejected)

    def _consumer(self, stream: str, handler: Any) -> Consumer:
        s = self.settings
        return Consumer.from_settings(
            self.redis, s, stream, GROUP, self.consumer_name, handler,
            keys=self.keys,
            batch_size=s.analytics_batch_size,
            # The stored position already makes each entry count once (entries at or before
            # it are skipped), so the consumer's per-event-id markers would only cost time.
            dedupe=False,
        )  # fmt: skip

    # -- start ------------------------------------------------------------------------------

    async def start(self, stop: asyncio.Event | None = None) -> None:
        """Wait for the scenario (whoever starts a run stores it), then load or seed the tables."""
        while self.scenario is None:
            try:
                self.scenario = await load_scenario(self.redis, self.keys)
            except TRANSIENT as exc:  # Redis not up yet: keep waiting, as for the scenario
                log.warning("waiting for redis: %s", exc)
            if self.scenario is None:
                if stop is not None and stop.is_set():
                    return
                await asyncio.sleep(0.2)
        await self.reload()
        assert self.state is not None
        # Readers (API, exports) take the parameters from here instead of parsing the scenario.
        await self.redis.hset(self.keys.analytics("meta"), "params", self.state.params.to_json())
        raw = await self.redis.hget(self.keys.analytics("metrics"), "communities")
        self.previous_communities = json.loads(raw) if raw else None

    async def reload(self) -> None:
        self.state = await load_state(self.redis, self.keys, self.scenario)
        self.reloads += 1
        if self.freeze_heap:
            # The loaded tables and the scenario live as long as the process: out of the
            # cycle collector's generations, full collections stop walking them again and
            # again (they cost a fifth of a second each with a town in memory). And a batch
            # holds thousands of parsed events while it is folded: young collections every
            # 700 allocations walked them over and over (~7% of ingestion's CPU), every
            # 20,000 they do not. Only the process itself asks for this: both are process-wide.
            gc.freeze()
            gen0, gen1, gen2 = gc.get_threshold()
            gc.set_threshold(max(gen0, YOUNG_COLLECTION_EVERY), gen1, gen2)
        if self.state.dirty["nodes"]:  # freshly seeded: store the cast before any event arrives
            async with self.redis.pipeline(transaction=True) as tx:
                await tx.watch(self.keys.analytics("meta"))
                if await tx.exists(self.keys.analytics("meta")):
                    await tx.reset()
                    return
                tx.multi()
                queue_save(tx, self.keys, self.state)
                await tx.execute()

    # -- the committed stream ---------------------------------------------------------------

    async def handle(self, batch: list[Delivery], tx: Pipeline) -> None:
        """Fold a batch; queue the changed records, the position and an update on ``tx``."""
        assert self.state is not None, "start() first"
        first = batch[0].stream_id
        gap = await self._sync(self.keys.committed_events, first)
        position = parse_id(self.state.meta.position)
        entries: list[tuple[str, Any]] = []
        for stream_id, fields in gap:
            with contextlib.suppress(EventError):
                entries.append((stream_id, parse_event(fields)))
        if parse_id(first) > position and parse_id(batch[-1].stream_id) > position:
            entries += [(d.stream_id, d.event) for d in batch]  # the usual case: all new
        else:
            entries += [(d.stream_id, d.event) for d in batch if parse_id(d.stream_id) > position]
        new_run = False
        state = self.state
        for (stream_id, event), eid in zip(entries, event_ids(e for _, e in entries), strict=True):
            if event.tick <= state.meta.tick:  # state.starts_new_run(event), inlined: per entry
                await self._start_over(event.tick)
                state, new_run = self.state, True
            state.apply(stream_id, event, eid)
        if new_run:  # the old run's keys go in the same MULTI/EXEC as the new run's tables
            tx.delete(*await run_keys(self.redis, self.keys))
            tx.hset(self.keys.analytics("meta"), "params", state.params.to_json())
        queue_save(tx, self.keys, state)
        update = {"kind": "tables", "tick": state.meta.tick, "events": state.meta.events}
        if new_run:
            update["new_run"] = 1
        tx.xadd(self.keys.analytics_updates, update, maxlen=UPDATES_MAX_LEN, approximate=True)

    async def _start_over(self, tick: int) -> None:
        """A new run (the world was seeded again): fresh tables from the scenario in Redis now
        (a re-seed may come with another scenario); the caller queues the old run's deletion."""
        assert self.state is not None
        last = self.state.meta.tick
        log.info("tick %d after tick %d: a new run; analytics start over", tick, last)
        scenario = await load_scenario(self.redis, self.keys)
        if scenario is not None:
            self.scenario = scenario
        self.state = self.state.new_run(self.scenario)
        self.previous_communities = None  # the old run's factions are not this one's
        self._metrics_mark = None

    async def _sync(self, stream: str, first: str) -> list[tuple[str, dict[str, str]]]:
        """Sync the in-memory tables with the stored ones; return the entries not yet folded."""
        assert self.state is not None
        for _ in range(2):
            position = self.state.meta.position
            async with self.redis.pipeline(transaction=False) as p:
                p.hget(self.keys.analytics("meta"), "position")
                p.xrange(stream, f"({position}", f"({first}")
                stored, gap = await p.execute()
            if (stored or "0-0") == position:
                return gap
            log.info("stored position %s is not %s: reloading the tables", stored, position)
            await self.reload()
        return gap

    # -- the rejected stream ----------------------------------------------------------------

    async def handle_rejected(self, batch: list[Delivery], tx: Pipeline) -> None:
        """Count rejections per object, agent and reason, exactly once by stream position;
        when ticks go back (a new run) the counters start over, in the same MULTI/EXEC."""
        meta = self.keys.analytics("meta")
        first = batch[0].stream_id
        stored, tick = cast(
            list[str | None], await self.redis.hmget(meta, ["rejected_position", "rejected_tick"])
        )
        stored = stored or "0-0"
        gap = cast(
            list[tuple[str, dict[str, str]]],
            await self.redis.xrange(self.keys.rejected_events, f"({stored}", f"({first}"),
        )
        entries: list[tuple[str, Any]] = []
        for stream_id, fields in gap:
            with contextlib.suppress(EventError):
                entries.append((stream_id, parse_event(fields)))
        entries += [
            (d.stream_id, d.event) for d in batch if parse_id(d.stream_id) > parse_id(stored)
        ]
        queue_rejections(tx, self.keys, entries, int(tick or 0))

    # -- metrics ----------------------------------------------------------------------------

    async def compute_metrics(self) -> dict[str, Any] | None:
        """Recompute metrics and insights from the in-memory tables and store them."""
        state = self.state
        if state is None:
            return None
        params, tick = state.params, state.meta.tick
        ids, pairs, weights = graphs.tie_arrays(
            state.nodes, state.edges.values(), params, tick, params.min_tie_strength
        )
        job = functools.partial(
            centrality.compute,
            ids,
            pairs,
            weights,
            seed=params.seed,
            resolution=params.louvain_resolution,
        )
        if self._pool is not None:  # igraph in another process: ingestion keeps the GIL
            result = await asyncio.get_running_loop().run_in_executor(self._pool, job)
        else:
            result = await asyncio.to_thread(job)
        view = View(
            params=params,
            tick=tick,
            nodes=state.nodes,
            edges=state.edges,
            objects=state.objects,
            places=state.places,
            rejections=await read_rejections(self.redis, self.keys),
            rejection_evidence=await read_rejection_evidence(self.redis, self.keys),
            metrics=result,
            previous_communities=self.previous_communities,
            rivals=rivals_of(self.scenario),
        )
        found = detect(view)
        if self.state is not state:  # a new run began meanwhile: these belong to the old one
            return None
        await store_metrics(self.redis, self.keys, tick, result, found)
        self.previous_communities = result["communities"]
        return {"tick": tick, **result, "insights": found}

    async def metrics_loop(self, stop: asyncio.Event) -> None:
        """Recompute metrics every ``metrics_interval_s`` when something changed; never more
        often than one run's own duration apart, so big graphs get at most half a core."""
        interval = self.state.params.metrics_interval_s if self.state else 2.0
        while not stop.is_set():
            pause = interval
            try:
                mark = (self.state.meta.tick, self.state.meta.events) if self.state else None
                if mark is not None and mark != self._metrics_mark:
                    started = time.monotonic()
                    await self.compute_metrics()
                    self._metrics_mark = mark
                    pause = max(interval, time.monotonic() - started)
            except BrokenProcessPool:
                log.warning("the metrics process died; starting another")
                self._pool = metrics_pool()
            except Exception:  # the loop must outlive a bad run or Redis blinking
                log.exception("metrics run failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """A health key with a TTL that a container healthcheck reads."""
        ttl = self.settings.health_ttl_s
        while not stop.is_set():
            with contextlib.suppress(*TRANSIENT):
                await self.redis.set(self.keys.health("analytics"), str(time.time()), ex=ttl)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(ttl / 3, 0.5))

    # -- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, burst: bool = False) -> None:
        """Consume both streams until ``stop`` (or, with ``burst``, until both are drained)."""
        if burst:
            await self.start(stop)
            if self.state is not None:
                await self.committed.run(burst=True)
                await self.rejected.run(burst=True)
                await self.compute_metrics()
            return

        async def relay_stop() -> None:
            await stop.wait()
            self.committed.stop()
            self.rejected.stop()

        # Alive (for a healthcheck) while still waiting for a scenario or for Redis.
        helpers = [asyncio.create_task(self.heartbeat(stop)), asyncio.create_task(relay_stop())]
        workers: list[asyncio.Task[Any]] = []
        try:
            await self.start(stop)
            if self.state is None:
                return
            self._pool = metrics_pool()
            workers = [
                asyncio.create_task(self.committed.run()),
                asyncio.create_task(self.rejected.run()),
                asyncio.create_task(self.metrics_loop(stop)),
            ]
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a consumer that died raises here
        finally:
            stop.set()
            self.committed.stop()
            self.rejected.stop()
            if workers:  # let the consumers finish the batch in hand, then stop what is left
                await asyncio.wait(workers, timeout=STOP_GRACE_S)
            for task in [*workers, *helpers]:
                task.cancel()
            await asyncio.gather(*workers, *helpers, return_exceptions=True)
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
