"""The consumer-group loop every ScrAI consumer runs.

Read own pending entries first, then new ones in batches; claim the idle entries
of dead consumers with XAUTOCLAIM (following its cursor to the end); validate
each entry; let the handler queue its effects on a MULTI/EXEC pipeline, to which
the loop adds the XACK and the idempotency markers, so an effect and its ack are
stored together or not at all. A failing entry stays pending and is retried;
after ``max_deliveries`` failures, or at once when it is not a readable event,
it moves to the dead-letter stream with its reason and the loop goes on.

The transaction that acks a batch also reads the next one (up to two batches in
hand), and the batch after this one is parsed while Redis executes it: the client's
work and the server's overlap instead of taking turns.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from scrai.events import AnyEvent, EventError, parse_events
from scrai.keys import Keys
from scrai.settings import Settings

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str] | None]

# Errors that mean "Redis is away", answered with a capped backoff and a retry.
# redis-py wraps socket errors in its own; a handler's OSError or TimeoutError (a
# file, an HTTP call) is the handler failing, counted towards the dead letter.
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError, BusyLoadingError)
TRANSIENT = (*REDIS_AWAY, ConnectionError, OSError)


class Delivery(NamedTuple):
    """One entry of a batch, read and validated. (A named tuple: a consumer builds one
    per event, and a frozen dataclass costs four times as much to build.)"""

    stream_id: str
    event: AnyEvent


Handler = Callable[[list[Delivery], Pipeline], Awaitable[None]]
# A batch's entries that still have their fields, and what each of them reads as.
Parsed = tuple[list[Entry], list[AnyEvent | EventError]]


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    failures: int = 0
    reconnects: int = 0
    claimed: int = 0
    batches: int = 0
    last_error: str | None = field(default=None, repr=False)


class Consumer:
    """One member of a consumer group on one stream.

    ``name`` must be stable across restarts of the same process role, so that a
    restarted consumer finds its own pending entries first. ``redis`` must decode
    responses (``scrai.connection.connect`` does).

    The handler gets the fresh (not yet applied) deliveries of a batch and a
    MULTI/EXEC pipeline; it queues its effects there and must not execute it.
    When the transaction does not commit (a handler error, Redis away) the
    handler may be called again for the same deliveries, so keep in-memory
    side effects out of it or make them idempotent. ``claim_idle_ms`` must be
    longer than the slowest three batches (up to two wait, read ahead, while one is
    handled), or another member of the group claims a live consumer's entries; a
    consumer does not claim while it holds batches read ahead (its own idle entries).

    Exactly once: a batch's effects, its XACK and its dedupe markers commit in one
    MULTI/EXEC, so a crash at any point applies a batch fully or not at all, and the
    entries of a batch that did not commit are delivered again. A republished copy of
    an event (same ``event_id``, another entry) is skipped once the first copy has
    committed, for at least ``dedupe_window_s`` (at most twice that); two members of
    one group applying two copies at the same instant is not excluded (the check is
    not inside the transaction).

    The markers live in one set per window-long time bucket (``Keys.seen_bucket``),
    which expires as a whole: adding to a set costs the server a sixth of adding to
    a sorted set, and no trimming is needed. A check looks in the current bucket and
    the one before, which hold every marker younger than the window, and in the next
    one (a member whose clock runs ahead writes there near a bucket's end). Markers
    that an older version kept in the sorted set ``Keys.seen`` are still honoured
    until that set expires (one window after the first start of this version).
    ``stop``: an event (e.g. the one :func:`scrai.service.run_service` passes to
    ``main``) that stops the loop after the current batch.

    ``read_ahead`` (on by default): read the next batches in each ack's transaction and
    parse one while that transaction is on its way. Off for a consumer whose handler's
    work dwarfs the round trips (the memory consolidator): there the overlap gains
    nothing, and batches read ahead, which live on through the next batch's work, leave
    the allocator's arenas holding both lifetimes, so its resident memory crept up.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        *,
        keys: Keys | None = None,
        batch_size: int = 500,
        block_ms: int = 1_000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        dedupe: bool = True,
        dedupe_window_s: int = 600,
        start_id: str = "0",
        max_backoff_s: float = 5.0,
        stop: asyncio.Event | None = None,
        read_ahead: bool = True,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.name = name
        self.handler = handler
        self.keys = keys or Keys()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.dedupe = dedupe
        self.dedupe_window_s = dedupe_window_s
        self.start_id = start_id
        self.max_backoff_s = max_backoff_s
        self.read_ahead = read_ahead
        self.stats = ConsumerStats()
        self.stopping = stop if stop is not None else asyncio.Event()
        self._read_own_pending = True
        # Batches of new entries read ahead in the transaction of a batch's ack, oldest
        # first (see _commit).
        self._prefetched: list[list[Entry]] = []
        # The oldest of them parsed while that transaction was on its way (see _commit).
        self._parsed_ahead: tuple[list[Entry], Parsed] | None = None
        # Stream ids with a failure count stored, cleared once they are handled.
        self._failing: set[str] = set()
        self._failed_in_step = 0
        self._next_claim = 0.0
        # The sorted set of markers of an older version, if there was one at start.
        self._legacy_seen: str | None = None
        self._failures_key = self.keys.failures(stream, group)
        self._dead_key = self.keys.dead_letter(stream)
        # A blocking read must end well before the client's socket timeout, or the
        # client gives up on a healthy, idle connection (and we would "reconnect").
        timeout_s = redis.connection_pool.connection_kwargs.get("socket_timeout")
        self._max_block_ms = max(1, int(timeout_s * 800)) if timeout_s else None

    @classmethod
    def from_settings(
        cls,
        redis: aioredis.Redis,
        settings: Settings,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        **overrides: object,
    ) -> Consumer:
        """A consumer tuned by ``SCRAI_CONSUMER_*`` settings, keys under its namespace."""
        options: dict[str, object] = dict(
            keys=Keys(settings.namespace),
            batch_size=settings.consumer_batch_size,
            block_ms=settings.consumer_block_ms,
            claim_idle_ms=settings.consumer_claim_idle_ms,
            max_deliveries=settings.consumer_max_deliveries,
            dedupe_window_s=settings.consumer_dedupe_window_s,
            max_backoff_s=settings.reconnect_max_backoff_s,
        )
        options.update(overrides)
        return cls(redis, stream, group, name, handler, **options)  # type: ignore[arg-type]

    # -- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return. Idempotent."""
        self.stopping.set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        if self.dedupe:
            legacy = self.keys.seen(self.stream, self.group)
            if await self.redis.exists(legacy):
                # Nothing adds to it any more: let it go one window from now.
                await self.redis.expire(legacy, self.dedupe_window_s, nx=True)
                self._legacy_seen = legacy

    async def run(self, *, burst: bool = False) -> ConsumerStats:
        """Consume until :meth:`stop`; with ``burst=True``, until nothing is left to read."""
        backoff = 0.0
        group_ready = False
        # Once stopped, batches already read ahead are still handled: they were delivered to us.
        while not self.stopping.is_set() or self._prefetched:
            try:
                if not group_ready:
                    await self.ensure_group()
                    group_ready = True
                progressed = await self.step(burst=burst)
                backoff = 0.0
                if burst and not progressed:
                    break
            except TRANSIENT as exc:
                # Redis is away: wait with capped, jittered backoff so a fleet of
                # consumers does not reconnect in lockstep, then start over from our
                # own pending entries (nothing is lost: unacked entries stay pending).
                self.stats.reconnects += 1
                self.stats.last_error = repr(exc)
                if self.stopping.is_set():
                    break  # what was read ahead stays pending; a restart reads it first
                backoff = min(self.max_backoff_s, max(0.05, backoff * 2))
                delay = backoff * (0.5 + random.random() / 2)
                log.warning(
                    "%s/%s: redis unavailable (%s); retry in %.2fs",
                    self.group,
                    self.name,
                    exc,
                    delay,
                )
                self._read_own_pending = True
                await self._sleep(delay)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # stream or group deleted under us
                    group_ready = False
                    self._read_own_pending = True
                    continue
                raise
        return self.stats

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- one step ----------------------------------------------------------------------

    async def step(self, *, burst: bool = False) -> bool:
        """Read and handle one batch. Returns whether anything was read."""
        self._failed_in_step = 0
        try:
            return await self._step(burst=burst)
        finally:
            if self._failed_in_step:
                # Failed entries stay pending: re-read them, after a pause that grows
                # with their failure count (one pause per batch, not per entry).
                self._read_own_pending = True
                await self._sleep(min(0.05 * 2**self._failed_in_step, 2.0))

    async def _step(self, *, burst: bool) -> bool:
        now = time.monotonic()
        # Not while batches read ahead wait: they are this consumer's own idle entries, and
        # claiming them would deliver them again (and count towards dead-lettering them).
        if now >= self._next_claim and not self._prefetched and not self.stopping.is_set():
            self._next_claim = now + max(self.claim_idle_ms / 2000, 0.05)
            if await self.claim():
                return True
        if self._read_own_pending:
            # They are pending too: reading "0" gets them again.
            self._prefetched, self._parsed_ahead = [], None
            entries = await self._read("0", block=None)
            if not entries:
                self._read_own_pending = False
                return await self._step(burst=burst) if burst else True
            await self.handle(entries)
            return True
        if self._prefetched:
            entries = self._prefetched.pop(0)
        else:
            entries = await self._read(">", block=None if burst else self.block_ms)
            if not entries:
                return False
        await self.handle(entries, read_ahead=self.read_ahead)
        return True

    async def _read(self, start: str, *, block: int | None) -> list[Entry]:
        if block is not None and self._max_block_ms is not None:
            block = min(block, self._max_block_ms)
        reply = await self.redis.xreadgroup(
            self.group, self.name, {self.stream: start}, count=self.batch_size, block=block
        )
        return reply[0][1] if reply else []  # type: ignore[index,return-value]

    async def claim(self) -> int:
        """Take over entries idle longer than ``claim_idle_ms`` in any consumer, and handle them."""
        cursor, total = "0-0", 0
        while True:
            reply = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.name,
                self.claim_idle_ms,
                cursor,
                count=self.batch_size,
            )
            cursor, entries = reply[0], reply[1]
            deleted = reply[2] if len(reply) > 2 else []
            if deleted:  # trimmed away while pending: nothing to handle, clear the PEL
                await self.redis.xack(self.stream, self.group, *deleted)
            if entries:
                total += len(entries)
                await self.handle(entries)
            if cursor == "0-0":
                break
        self.stats.claimed += total
        return total

    # -- handling ----------------------------------------------------------------------

    async def handle(self, entries: list[Entry], *, read_ahead: bool = False) -> None:
        """Validate, dedupe and apply one batch; its effects and acks commit together.

        ``read_ahead``: read the next new entries in the same transaction (one round
        trip less per batch); they are handled by the next :meth:`step`.
        """
        self.stats.batches += 1
        ids = [stream_id for stream_id, _ in entries]
        ahead, self._parsed_ahead = self._parsed_ahead, None
        present, parsed = ahead[1] if ahead and ahead[0] is entries else self._parse(entries)
        dead: list[tuple[str, dict[str, str], str, str]] = []
        if present is entries:
            deliveries = list(map(Delivery, ids, parsed))
        else:
            deliveries = list(map(Delivery, [i for i, _ in present], parsed))
        if any(isinstance(event, EventError) for event in parsed):
            for (stream_id, fields), event in zip(present, parsed, strict=True):
                if isinstance(event, EventError):
                    dead.append((stream_id, fields, event.reason, str(event)))  # type: ignore[arg-type]
            deliveries = [d for d in deliveries if not isinstance(d.event, EventError)]

        fresh, fresh_ids, duplicates = await self._split_seen(deliveries)
        n_fresh, single = len(fresh), fresh[0] if len(fresh) == 1 else None
        # From here on only _commit holds the parsed events, so that they can be freed
        # while Redis executes the transaction (freeing them costs as much as the ack).
        del deliveries, parsed, ahead
        batch = [fresh]
        del fresh
        try:
            await self._commit(batch, fresh_ids, ids, dead, read_ahead=read_ahead)
            if self._failing:
                self._failing.difference_update(ids)
            self.stats.handled += n_fresh
            self.stats.duplicates += duplicates
            self.stats.dead_lettered += len(dead)
        except REDIS_AWAY:
            raise
        except Exception:
            if read_ahead:  # the read may have run (EXEC runs the commands that do not fail)
                self._read_own_pending = True
            if n_fresh <= 1 and not dead and not duplicates:
                await self._failed(single, ids)
                return
            # Isolate the entry that fails: handle one by one.
            for stream_id, fields in entries:
                await self.handle([(stream_id, fields)])

    @staticmethod
    def _parse(entries: list[Entry]) -> Parsed:
        present = entries
        if any(fields is None for _, fields in entries):  # deleted by trimming while pending
            present = [(i, f) for i, f in entries if f is not None]
        return present, parse_events([fields for _, fields in present])  # type: ignore[misc]

    def _seen_bucket(self, now: float) -> int:
        return int(now) // self.dedupe_window_s

    async def _split_seen(
        self, deliveries: list[Delivery]
    ) -> tuple[list[Delivery], list[bytes], int]:
        """The deliveries not applied before (with their event ids), and how many were."""
        if not deliveries:
            return [], [], 0
        if not self.dedupe:
            return deliveries, [], 0  # no markers to check or to write
        # Markers are the 16 raw bytes of each UUID: less to send and to keep than its text.
        # (UUID.bytes is this, behind a Python-level property.)
        event_ids = [d.event.event_id.int.to_bytes(16, "big") for d in deliveries]
        # Every marker younger than the window is in the current bucket or the one before;
        # the next one too holds those of a member whose clock is ahead of ours.
        bucket = self._seen_bucket(time.time())
        async with self.redis.pipeline(transaction=False) as pipe:
            for b in (bucket, bucket - 1, bucket + 1):
                key = self.keys.seen_bucket(self.stream, self.group, b)
                pipe.execute_command("SMISMEMBER", key, *event_ids)
            if self._legacy_seen:
                pipe.execute_command("ZMSCORE", self._legacy_seen, *event_ids)
            replies = await pipe.execute()
        seen_before = any(replies[0]) or any(replies[1]) or any(replies[2])
        if self._legacy_seen and not seen_before:
            seen_before = any(score is not None for score in replies[3])
        if not seen_before and len(set(event_ids)) == len(event_ids):
            return deliveries, event_ids, 0  # the usual case: all new, all distinct
        fresh: list[Delivery] = []
        fresh_ids: list[bytes] = []
        batch_ids: set[bytes] = set()
        legacy = replies[3] if self._legacy_seen else [None] * len(event_ids)
        for delivery, event_id, current, previous, following, score in zip(
            deliveries, event_ids, replies[0], replies[1], replies[2], legacy, strict=True
        ):
            # A second copy inside the same batch is a duplicate too.
            seen = current or previous or following or score is not None
            if not seen and event_id not in batch_ids:
                batch_ids.add(event_id)
                fresh.append(delivery)
                fresh_ids.append(event_id)
        return fresh, fresh_ids, len(deliveries) - len(fresh)

    async def _commit(
        self,
        batch: list[list[Delivery]],
        fresh_ids: list[bytes],
        ids: list[str],
        dead: list[tuple[str, dict[str, str], str, str]],
        *,
        read_ahead: bool = False,
    ) -> None:
        """Apply ``batch[0]`` (the fresh deliveries; emptied once queued) and ack ``ids``."""
        async with self.redis.pipeline(transaction=True) as tx:
            fresh = batch[0] if batch else []
            if fresh:
                await self.handler(fresh, tx)
            del fresh
            if fresh_ids:  # the markers of what this batch applies (none without dedupe)
                bucket = self._seen_bucket(time.time())
                key = self.keys.seen_bucket(self.stream, self.group, bucket)
                tx.execute_command("SADD", key, *fresh_ids)
                # Kept while a check may look at it: until the end of the next bucket.
                tx.execute_command("EXPIREAT", key, (bucket + 2) * self.dedupe_window_s + 1)
            for stream_id, fields, reason, message in dead:
                self._queue_dead_letter(tx, stream_id, fields, reason, message)
            if ids:
                tx.xack(self.stream, self.group, *ids)
                recovered = self._failing.intersection(ids) if self._failing else None
                if recovered:
                    tx.hdel(self._failures_key, *recovered)
            read = read_ahead and not self.stopping.is_set()
            if read:
                # Inside MULTI a read does not block: it returns what is there now. Two
                # batches when none is in hand: from then on the next batch is parsed
                # while this transaction is on its way (_execute_parsing_ahead).
                count = self.batch_size * (1 if self._prefetched else 2)
                tx.xreadgroup(self.group, self.name, {self.stream: ">"}, count=count)
            if read_ahead and self._prefetched and self._parsed_ahead is None:
                replies = await self._execute_parsing_ahead(tx, self._prefetched[0], batch)
            else:
                replies = await tx.execute()
            if read:
                reply = replies[-1]
                entries = reply[0][1] if reply else []
                for start in range(0, len(entries), self.batch_size):
                    self._prefetched.append(entries[start : start + self.batch_size])

    async def _execute_parsing_ahead(
        self, tx: Pipeline, entries: list[Entry], done: list[list[Delivery]]
    ) -> list[Any]:
        """Execute ``tx``; while Redis works on it, free ``done`` and parse ``entries``.

        The client's work and the server's overlap instead of taking turns. Only the
        parsing runs ahead (it touches nothing); that batch's dedupe check still follows
        this transaction's markers.
        """
        task = asyncio.ensure_future(tx.execute())
        try:
            await asyncio.sleep(0)  # the task sends the transaction, then waits for replies
            done.clear()
            parsed = self._parse(entries)
            replies: list[Any] = await task
        except BaseException:
            task.cancel()  # no-op once done
            if task.done() and not task.cancelled():
                task.exception()  # ours is the error raised
            raise
        self._parsed_ahead = (entries, parsed)
        return replies

    def _queue_dead_letter(
        self, tx: Pipeline, stream_id: str, fields: dict[str, str], reason: str, message: str
    ) -> None:
        entry = {f"orig_{k}": v for k, v in fields.items()}
        entry.update(
            source_stream=self.stream,
            source_id=stream_id,
            group=self.group,
            reason=reason,
            message=message[:2000],
        )
        log.warning("%s: %s -> dead letter (%s: %s)", self.group, stream_id, reason, message)
        tx.xadd(self._dead_key, entry)  # type: ignore[arg-type]

    async def _failed(self, delivery: Delivery | None, ids: list[str]) -> None:
        """Count a failed delivery; dead-letter the entry once it has failed too often."""
        self.stats.failures += 1
        stream_id = ids[0]
        reason_text = traceback.format_exc(limit=-3)  # the innermost frames: where it broke
        self.stats.last_error = reason_text
        count = await self.redis.hincrby(self._failures_key, stream_id, 1)
        if count < self.max_deliveries:
            log.warning(
                "%s: handler failed on %s (%d/%d)",
                self.group,
                stream_id,
                count,
                self.max_deliveries,
            )
            self._failing.add(stream_id)
            self._failed_in_step = max(self._failed_in_step, count)
            return
        fields = delivery.event.to_fields() if delivery else {}
        async with self.redis.pipeline(transaction=True) as tx:
            self._queue_dead_letter(
                tx, stream_id, fields, "handler_failed",
                f"failed {count} deliveries; last error: {reason_text}",
            )  # fmt: skip
            tx.xack(self.stream, self.group, stream_id)
            tx.hdel(self._failures_key, stream_id)
            await tx.execute()
        self._failing.discard(stream_id)
        self.stats.dead_lettered += 1
