"""Where the analytics tables live in Redis, and how they are saved and loaded.

Layout (every name from ``keys.analytics(...)``):

- ``nodes``, ``edges``, ``movement``, ``places``, ``objects``: hashes, record id ->
  JSON array of the record's fields in declaration order (see :mod:`analytics.state`;
  read them with ``load``); an edge's id is ``"a|b"`` with ``a < b``.
- ``meta``: hash ``position`` (last committed-stream id folded in), ``tick`` (last
  closed tick), ``events``, ``tick_event``, ``run_start`` (the stream id before the
  current run's first entry); ``rejected_position`` and ``rejected_tick`` for the rejections.
- ``rejections``: hash of counters ``<object>``, ``<object>|<agent>``, ``reason:<r>``;
  ``rejections:evidence``: list of recent ``[event_id, tick, agent, object, reason]``.
- ``snapshot:<tick>``: JSON graph as of that tick; ``snapshots``: zset tick -> tick.
- ``metrics``: hash ``graph``, ``nodes``, ``communities`` (JSON), by the metrics task.
- ``insights``: hash insight id -> JSON insight.

The records, the position and the consumer's ack are written in one MULTI/EXEC,
so the tables never hold an event the group has not acknowledged, or miss one it has.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Any, cast

import redis.asyncio as aioredis
from orjson import dumps
from redis.asyncio.client import Pipeline

from analytics.ingest import AnalyticsState
from analytics.params import Params
from analytics.space import Space
from analytics.state import ROW_OF, TABLES, Meta, load
from scrai.keys import Keys
from scrai.scenario.model import Scenario

STATE_TABLES = tuple(TABLES)
SNAPSHOT_PREFIX = "snapshot:"


def queue_save(tx: Pipeline, keys: Keys, state: AnalyticsState) -> int:
    """Queue changed records, the meta and new snapshots; returns how many records."""
    written = 0
    for name in STATE_TABLES:
        dirty = state.dirty[name]
        if not dirty:
            continue
        ids = list(dirty)
        records = map(state.table(name).__getitem__, ids)
        # id, record, id, record...: built in C (no bytecode per record), orjson's bytes
        # sent as they are
        fields = chain.from_iterable(zip(ids, map(dumps, map(ROW_OF[name], records)), strict=True))
        tx.execute_command("HSET", keys.analytics(name), *fields)
        written += len(dirty)
        dirty.clear()
    tx.hset(keys.analytics("meta"), mapping=state.meta.as_fields())  # type: ignore[arg-type]
    every = state.params.snapshot_every_ticks
    for tick, body in state.snapshots:
        tx.set(keys.analytics(f"{SNAPSHOT_PREFIX}{tick}"), body)
        tx.zadd(keys.analytics("snapshots"), {str(tick): tick})
        old = tick - every * state.params.snapshots_kept
        if old >= 0:
            tx.delete(keys.analytics(f"{SNAPSHOT_PREFIX}{old}"))
            tx.zrem(keys.analytics("snapshots"), str(old))
    state.snapshots.clear()
    return written


async def read_meta(redis: aioredis.Redis, keys: Keys) -> Meta | None:
    fields = cast(dict[str, str], await redis.hgetall(keys.analytics("meta")))
    return Meta.from_fields(fields) if fields.get("position") else None


async def read_table(redis: aioredis.Redis, keys: Keys, name: str) -> dict[str, Any]:
    raw = cast(dict[str, str], await redis.hgetall(keys.analytics(name)))
    return {k: load(name, v) for k, v in raw.items()}


async def load_state(
    redis: aioredis.Redis, keys: Keys, scenario: Scenario | None
) -> AnalyticsState:
    """The stored tables, or fresh ones seeded from ``scenario`` when nothing is stored yet."""
    meta = await read_meta(redis, keys)
    if meta is None:
        return AnalyticsState.seeded(scenario)
    state = AnalyticsState(Params.from_scenario(scenario), Space.from_scenario(scenario))
    state.meta = meta
    for name in STATE_TABLES:
        setattr(state, name, await read_table(redis, keys, name))
    state.attach(scenario)
    return state


def table_keys(keys: Keys) -> list[str]:
    """Every key holding folded state (what a rebuild replaces), snapshots excluded."""
    names = [*STATE_TABLES, "meta", "rejections", "rejections:evidence", "snapshots"]
    return [keys.analytics(n) for n in names]


# What belongs to one run besides the meta (whose fields a new run overwrites): the
# tables, the snapshots' index and the metrics task's output.
RUN_TABLES = (*STATE_TABLES, "snapshots", "metrics", "insights")


async def run_keys(redis: aioredis.Redis, keys: Keys) -> list[str]:
    """Every key a run's committed events built (a new run deletes them), snapshots included."""
    snaps = [k async for k in redis.scan_iter(match=keys.analytics(f"{SNAPSHOT_PREFIX}*"))]
    return [*(keys.analytics(n) for n in RUN_TABLES), *sorted(snaps)]


async def snapshot_ticks(redis: aioredis.Redis, keys: Keys) -> list[int]:
    return [int(t) for t in cast(list[str], await redis.zrange(keys.analytics("snapshots"), 0, -1))]


async def read_snapshot(redis: aioredis.Redis, keys: Keys, as_of: int) -> dict[str, Any] | None:
    """The latest snapshot at or before tick ``as_of``."""
    found = cast(
        list[str],
        await redis.zrevrangebyscore(keys.analytics("snapshots"), as_of, "-inf", start=0, num=1),
    )
    if not found:
        return None
    raw = await redis.get(keys.analytics(f"{SNAPSHOT_PREFIX}{found[0]}"))
    return json.loads(raw) if raw else None


async def read_rejections(redis: aioredis.Redis, keys: Keys) -> dict[str, int]:
    raw = cast(dict[str, str], await redis.hgetall(keys.analytics("rejections")))
    return {k: int(v) for k, v in raw.items()}


async def read_rejection_evidence(redis: aioredis.Redis, keys: Keys) -> list[list[Any]]:
    return [json.loads(x) for x in await redis.lrange(keys.analytics("rejections:evidence"), 0, -1)]
