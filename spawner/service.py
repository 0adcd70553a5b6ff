"""The spawner service: one worker per scenario agent, kept alive, reported, cleaned up.

At start it stores the scenario in Redis (the world seeds from it) and finds
or makes its run id (``keys.spawner_meta``): a spawner restarted after a crash
finds the run id of the one before and so adopts its workers instead of
starting duplicates. Then, every ``spawner_reconcile_interval_s`` and whenever
a start or stop completes, it compares the agents of the stored scenario (an
API may replace it) with the workers the backend finds, and executes what
:func:`spawner.reconciler.reconcile` says. Per-agent status goes to
``keys.worker_status``. On stop it removes every worker it started.

Redis away: passes fail and are retried; workers are never stopped for it. If
the outage outlasts the lease (``spawner_lease_ttl_s``), the spawner does
nothing to its workers until it has taken the lease back; if another spawner
took it meanwhile, this one exits and leaves the workers to it (see
:mod:`spawner.lease`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from scrai.connection import connect
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from spawner.backends import Backend, make_backend
from spawner.lease import Lease, Retry, until, wait
from spawner.reconciler import (
    AgentBook,
    Plan,
    Policy,
    Stop,
    confirm_unhealthy,
    plan_workers,
    reconcile,
    record_start_failure,
)

log = logging.getLogger("spawner")
DEFAULT_SCENARIO = "scenarios/default.yml"


def read_scenario(path: str | Path) -> Scenario:
    """Load, validate and expand a scenario file (``ScenarioError`` lists every problem)."""
    from scrai.scenario.loader import load_scenario_file

    return load_scenario_file(path)


class Spawner:
    """Reconciles the workers of one namespace with the stored scenario's agents."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend: str | None = None,
        scenario: Scenario | None = None,
        parallelism: int = 16,
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.backend_name = backend or settings.spawner_backend
        self.scenario = scenario
        self.policy = Policy(
            backoff_base_s=settings.spawner_backoff_base_s,
            backoff_max_s=settings.spawner_backoff_max_s,
            backoff_reset_s=settings.spawner_backoff_reset_s,
        )
        self.books: dict[str, AgentBook] = {}
        self.run_id = ""
        self.backend: Backend | None = None
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="spawner")
        self._published: dict[str, str] = {}
        self._scenario_raw: str | None = None
        self._desired: dict[str, list[str]] = {}

    # -- lifecycle -----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until ``stop`` is set, then remove every worker of this run."""
        redis = connect(self.settings)
        lease = Lease(redis, self.keys.spawner_lease, self.settings.spawner_lease_ttl_s)
        lost = asyncio.Event()
        renewer: asyncio.Task[None] | None = None
        try:
            if not await self._until(stop, lambda: self._take(lease)):
                return
            renewer = asyncio.create_task(self._renew(lease, lost, stop))
            if not await self._until(stop, lambda: self._begin(redis)):
                return
            await self._loop(redis, lease, lost, stop)
            if not lost.is_set() and not lease.held():
                # Stopped while the lease lapsed: remove the workers unless another spawner
                # surely holds it now (removing is undone by that one; orphans by nobody).
                await self._until(stop, lambda: self._confirm(lease, lost), forced=True)
            if lost.is_set():
                # Another spawner manages these workers now: leave them to it.
                log.error("lost the lease to another spawner; exiting without removing workers")
                return
            await self._until(stop, lambda: self.shutdown(redis), forced=True)
            await lease.release()
        finally:
            if renewer is not None:
                renewer.cancel()
            if self.backend is not None:
                self.backend.close()
            self._pool.shutdown(wait=False, cancel_futures=True)
            await redis.aclose()

    async def _take(self, lease: Lease) -> bool:
        if await lease.acquire():
            return True
        log.warning("another spawner holds %s; waiting for it", self.keys.spawner_lease)
        raise Retry

    async def _loop(
        self, redis: aioredis.Redis, lease: Lease, lost: asyncio.Event, stop: asyncio.Event
    ) -> None:
        """Reconcile passes while the lease is surely ours; none while it lapsed."""
        lapsed = False
        while not stop.is_set() and not lost.is_set():
            if lease.held():
                lapsed = False
                try:
                    await self.reconcile_once(redis)
                except Exception as exc:  # Redis or the engine away for a moment: next pass
                    log.warning("reconcile pass failed, retrying: %r", exc)
            elif not lapsed:
                # Acting now could race a spawner that took over: keep the workers as they
                # are (they wait for Redis too) until the lease is ours again.
                lapsed = True
                log.warning(
                    "lease lapsed (Redis unreachable?): keeping %d workers as they are "
                    "until the lease is ours again",
                    len(self._desired),
                )
            await wait(stop, self.settings.spawner_reconcile_interval_s)

    async def _renew(self, lease: Lease, lost: asyncio.Event, stop: asyncio.Event) -> None:
        """Keep the lease: renew it, take it back after it lapsed; ``lost`` once another has it."""
        while not stop.is_set():
            # Sooner while it is not held: the passes wait for it.
            await wait(stop, lease.ttl_ms / 3000 if lease.held() else 0.25)
            if stop.is_set():
                return
            try:
                if not await lease.keep():
                    lost.set()
                    return
            except (OSError, aioredis.RedisError) as exc:
                log.warning("cannot renew the lease: %r", exc)

    async def _confirm(self, lease: Lease, lost: asyncio.Event) -> None:
        if not await lease.keep():
            lost.set()

    async def _until(self, stop: asyncio.Event, step: Any, *, forced: bool = False) -> bool:
        cap = self.settings.reconnect_max_backoff_s
        return await until(stop, step, max_backoff_s=cap, forced=forced)

    async def _begin(self, redis: aioredis.Redis) -> None:
        meta = await redis.hgetall(self.keys.spawner_meta)
        adopting = bool(meta.get("run_id")) and meta.get("backend") == self.backend_name
        self.run_id = str(meta["run_id"]) if adopting else uuid.uuid4().hex[:12]
        stored = await redis.exists(self.keys.scenario)
        # An adopted run keeps the scenario it runs (an API may have replaced the file's).
        if self.scenario is not None and not (adopting and stored):
            await save_scenario(redis, self.keys, self.scenario)
        elif not stored:
            log.warning("no scenario stored at %s yet; waiting for one", self.keys.scenario)
            raise Retry
        await redis.hset(
            self.keys.spawner_meta,
            mapping={
                "run_id": self.run_id,
                "backend": self.backend_name,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": time.time(),
                "scenario": self.scenario.name if self.scenario else meta.get("scenario", ""),
            },
        )
        self.backend = await self._call(make_backend, self.backend_name, self.settings, self.run_id)
        log.info(
            "%s run %s with the %s backend",
            "adopting" if adopting else "starting",
            self.run_id,
            self.backend_name,
        )

    async def shutdown(self, redis: aioredis.Redis) -> None:
        """Remove every worker of this namespace and forget the run."""
        assert self.backend is not None
        workers = await self._call(self.backend.list)
        results = await asyncio.gather(
            *(self._call(self.backend.stop, w) for w in workers), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]  # retried by the caller; the ones already gone are not listed again
        await redis.delete(self.keys.worker_status, self.keys.spawner_meta)
        log.info("stopped %d workers of run %s", len(workers), self.run_id)

    # -- one pass --------------------------------------------------------------------

    async def desired_workers(self, redis: aioredis.Redis) -> dict[str, list[str]]:
        """Worker id -> hosted agents, for the scenario stored in Redis (parsed when it changed)."""
        found = await redis.get(self.keys.scenario)
        if found is None:
            # Gone (a Redis that came back empty): keep the workers there are, stop none.
            return self._desired
        raw = str(found)
        if raw != self._scenario_raw:
            scenario = Scenario.model_validate_json(raw)
            agents = [a.id for a in scenario.agents]
            self._desired = plan_workers(agents, self.settings.spawner_agents_per_worker)
            self._scenario_raw = raw
        return self._desired

    async def reconcile_once(self, redis: aioredis.Redis) -> Plan:
        """List, diff, act, publish: one reconciliation pass."""
        assert self.backend is not None
        backend = self.backend
        desired = await self.desired_workers(redis)
        observed = await self._call(backend.list)
        now = time.time()
        if any(w.detail == "unhealthy" for w in observed):
            fresh = {str(a) for a in await redis.zrangebyscore(self.keys.agents_alive, now, "+inf")}
            observed = confirm_unhealthy(observed, fresh, desired)
        plan = reconcile(desired, observed, self.run_id, self.books, now, self.policy)
        self.books = plan.books
        for stop in plan.stops:
            self._log_stop(stop)
        # Stops first: a crashed container must be gone before its name is reused.
        await asyncio.gather(*(self._call(backend.stop, s.worker) for s in plan.stops))
        results = await asyncio.gather(
            *(self._call(backend.start, w, desired[w]) for w in plan.starts),
            return_exceptions=True,
        )
        for agent_id, result in zip(plan.starts, results, strict=True):
            if isinstance(result, BaseException):
                log.error("cannot start the worker of %s: %s", agent_id, result)
                book = record_start_failure(self.books[agent_id], str(result), now, self.policy)
                self.books[agent_id] = book
        started = {r.agent_id: r.handle for r in results if not isinstance(r, BaseException)}
        await self.publish(redis, plan, started)
        return plan

    def _log_stop(self, stop: Stop) -> None:
        worker = stop.worker
        if stop.reason == "crashed":
            book = self.books.get(worker.agent_id, AgentBook())
            delay = max(0.0, book.next_start_at - time.time())
            log.warning(
                "worker of %s ended (%s): restart #%d in %.1fs",
                worker.agent_id, worker.detail or "exited", book.restarts, delay,
            )  # fmt: skip
        else:
            log.info(
                "removing %s worker %s of %s", stop.reason, worker.handle[:12], worker.agent_id
            )

    async def publish(self, redis: aioredis.Redis, plan: Plan, started: dict[str, str]) -> None:
        """Write each agent's status to ``keys.worker_status`` (only what changed).

        An agent of a shard shows its worker's status, with ``worker`` naming the shard.
        """
        out: dict[str, str] = {}
        for worker_id, status in plan.statuses.items():
            book = self.books.get(worker_id, AgentBook())
            entry: dict[str, Any] = {
                "state": book.state if book.state == "failed" else status.state,
                "restarts": status.restarts,
                "backend": self.backend_name,
                "handle": started.get(worker_id, status.handle),
                "worker": worker_id,
                "run_id": self.run_id,
                "last_exit": book.last_exit,
                "next_restart_at": book.next_start_at
                if book.state in ("restarting", "failed")
                else None,
            }
            line = json.dumps(entry, sort_keys=True)
            for agent_id in self._desired.get(worker_id, [worker_id]):
                out[agent_id] = line
        changed = {a: v for a, v in out.items() if self._published.get(a) != v}
        gone = [a for a in self._published if a not in out]
        if changed or gone:
            async with redis.pipeline(transaction=True) as tx:
                if changed:
                    at = time.time()
                    stamped = {
                        a: json.dumps({**json.loads(v), "updated_at": at})
                        for a, v in changed.items()
                    }
                    tx.hset(self.keys.worker_status, mapping=stamped)  # type: ignore[arg-type]
                if gone:
                    tx.hdel(self.keys.worker_status, *gone)
                await tx.execute()
        self._published = out

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
