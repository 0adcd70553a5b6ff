"""Replay the streams from the start into fresh tables; compare with the live ones, or swap.

The fresh tables are built under a temporary namespace (``<ns>:rebuild``), so
the live ones stay untouched until the swap, which renames every table in one
MULTI/EXEC. A live AnalyticsSystem notices the new position at its next batch,
reloads, and folds whatever the stream holds past the rebuilt position.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from analytics.ingest import AnalyticsState
from analytics.rejections import queue_rejections
from analytics.state import TABLES, dump, load
from analytics.tables import SNAPSHOT_PREFIX, queue_save, table_keys
from scrai.events import AnyEvent, EventError, parse_event
from scrai.keys import Keys
from scrai.scenario.store import load_scenario

CHUNK = 2_000
COMPARED = ("nodes", "edges", "movement", "places", "objects", "rejections")


@dataclass
class RebuildReport:
    events: int = 0
    rejected: int = 0
    position: str = "0-0"
    tick: int = 0
    differences: dict[str, list[str]] = field(default_factory=dict)
    swapped: bool = False
    # Committed entries retention removed (SCRAI_COMMITTED_RETENTION_MAX_LEN) before the
    # replay: the rebuilt tables miss them, so they are never swapped in.
    trimmed: int = 0

    @property
    def equal(self) -> bool:
        return not self.differences


def temp_keys(keys: Keys) -> Keys:
    return Keys(f"{keys.namespace}:rebuild" if keys.namespace else "rebuild")


async def _entries(redis: aioredis.Redis, stream: str):  # type: ignore[no-untyped-def]
    start = "-"
    while True:
        chunk = cast(
            list[tuple[str, dict[str, str]]], await redis.xrange(stream, start, "+", count=CHUNK)
        )
        if not chunk:
            return
        parsed: list[tuple[str, AnyEvent | None]] = []
        for stream_id, fields in chunk:
            try:
                parsed.append((stream_id, parse_event(fields)))
            except EventError:
                parsed.append((stream_id, None))  # unreadable: skipped, as the consumer does
        yield parsed
        start = f"({chunk[-1][0]}"


async def _delete_namespace_tables(redis: aioredis.Redis, keys: Keys) -> None:
    doomed = table_keys(keys)
    doomed += [k async for k in redis.scan_iter(match=keys.analytics(f"{SNAPSHOT_PREFIX}*"))]
    if doomed:
        await redis.delete(*doomed)


async def build(redis: aioredis.Redis, keys: Keys, into: Keys) -> RebuildReport:
    """Fold both streams from their first entry into fresh tables under ``into``."""
    await _delete_namespace_tables(redis, into)
    scenario = await load_scenario(redis, keys)
    state = AnalyticsState.seeded(scenario)
    report = RebuildReport()
    async for chunk in _entries(redis, keys.committed_events):
        new_run = False
        for stream_id, event in chunk:
            if event is None:
                state.meta.position = stream_id  # the consumer dead-letters it: not folded
                continue
            if state.starts_new_run(event):  # as the live system does: the last run only
                state, new_run = state.new_run(scenario), True
            state.apply(stream_id, event)
            report.events += 1
        if new_run:  # the old run's records (and snapshots) already written under ``into``
            await _delete_namespace_tables(redis, into)
        async with redis.pipeline(transaction=False) as p:
            queue_save(p, into, state)
            await p.execute()
    async with redis.pipeline(transaction=False) as p:
        queue_save(p, into, state)  # the seeded cast, when the stream is empty
        p.hset(into.analytics("meta"), "params", state.params.to_json())
        await p.execute()
    tick = 0
    async for chunk in _entries(redis, keys.rejected_events):
        readable = [(sid, ev) for sid, ev in chunk if ev is not None]
        async with redis.pipeline(transaction=False) as p:
            tick = queue_rejections(p, into, readable, tick)
            await p.execute()
        report.rejected += len(chunk)
    report.position, report.tick = state.meta.position, state.meta.tick
    return report


async def compare(redis: aioredis.Redis, a: Keys, b: Keys) -> dict[str, list[str]]:
    """Records that differ between two sets of tables (by table: the differing record ids)."""
    out: dict[str, list[str]] = {}
    for name in COMPARED:
        left = cast(dict[str, str], await redis.hgetall(a.analytics(name)))
        right = cast(dict[str, str], await redis.hgetall(b.analytics(name)))
        diff = sorted(
            k
            for k in left.keys() | right.keys()
            if _parse(name, left.get(k)) != _parse(name, right.get(k))
        )
        if diff:
            out[name] = diff
    for field_name in ("position", "tick", "events"):
        x = cast(str | None, await redis.hget(a.analytics("meta"), field_name))
        y = cast(str | None, await redis.hget(b.analytics("meta"), field_name))
        if x != y:
            out.setdefault("meta", []).append(f"{field_name}: {x} != {y}")
    return out


def _parse(table: str, raw: str | None) -> Any:
    """A stored value in one form: a record as its array of fields whichever way it was stored."""
    if raw is None:
        return None
    if table in TABLES:
        with contextlib.suppress(TypeError, ValueError):
            return json.loads(dump(load(table, raw)))
    return json.loads(raw)  # not a readable record (damaged): as it is


async def swap(redis: aioredis.Redis, keys: Keys, fresh: Keys) -> None:
    """Put the fresh tables in place of the live ones, all in one MULTI/EXEC."""
    live_snaps = [k async for k in redis.scan_iter(match=keys.analytics(f"{SNAPSHOT_PREFIX}*"))]
    fresh_snaps = [k async for k in redis.scan_iter(match=fresh.analytics(f"{SNAPSHOT_PREFIX}*"))]
    pairs = list(zip(table_keys(fresh), table_keys(keys), strict=True))
    exists = [await redis.exists(src) for src, _ in pairs]
    prefix_len = len(fresh.analytics(""))
    async with redis.pipeline(transaction=True) as tx:
        if live_snaps:
            tx.delete(*live_snaps)
        for (src, dst), present in zip(pairs, exists, strict=True):
            if present:
                tx.rename(src, dst)
            else:
                tx.delete(dst)
        for src in fresh_snaps:
            tx.rename(src, keys.analytics(src[prefix_len:]))
        await tx.execute()


async def rebuild(redis: aioredis.Redis, keys: Keys, *, replace: bool = False) -> RebuildReport:
    """Rebuild from the streams; report differences with the live tables; with ``replace``, swap."""
    fresh = temp_keys(keys)
    report = await build(redis, keys, fresh)
    report.differences = await compare(redis, keys, fresh)
    report.trimmed = await trimmed(redis, keys.committed_events)
    if replace and not report.trimmed:
        await swap(redis, keys, fresh)
        report.swapped = True
    else:
        await _delete_namespace_tables(redis, fresh)
    return report


async def trimmed(redis: aioredis.Redis, stream: str) -> int:
    """How many entries ever added to ``stream`` it no longer holds (retention trimmed them)."""
    try:
        info = await redis.xinfo_stream(stream)
    except ResponseError:  # no stream: nothing was ever added
        return 0
    return int(info.get("entries-added", info["length"])) - int(info["length"])
