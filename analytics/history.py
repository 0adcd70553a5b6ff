"""The graph as of an earlier tick, exactly: a snapshot replayed forward (pure fold, no writes).

Snapshots are kept every ``snapshot_every_ticks`` ticks; the graph of a tick in
between is the latest snapshot at or before it, plus the committed entries after
that snapshot's stream position up to the tick's ``TickEvent``, folded into a
throwaway state. Without a snapshot, the replay starts from the seeded scenario.
When the stream no longer holds those entries (trimmed), the snapshot is served
as it is and the answer says so. Only the current run counts: a stream holding earlier
runs (the world seeded again) is replayed from the current run's start.
"""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis

from analytics.ingest import AnalyticsState
from analytics.params import Params
from analytics.space import Space
from analytics.state import Edge, Movement, Node, ObjectStats
from analytics.tables import read_meta, read_snapshot
from scrai.bus.retention import parse_id
from scrai.events import EventError, TickEvent, parse_event
from scrai.keys import Keys
from scrai.scenario.store import load_scenario

CHUNK = 2_000
Entries = list[tuple[str, dict[str, str]]]


def state_from_snapshot(snap: dict[str, Any], params: Params, space: Space) -> AnalyticsState:
    """A state holding what the graph needs from a snapshot: places, ties, recent object users."""
    state = AnalyticsState(params, space)
    t = snap["tick"]
    for nid, n in snap["nodes"].items():
        state.nodes[nid] = Node(nid, n["name"], n.get("archetype"), n.get("place"))
        state.movement[nid] = Movement(nid, place=n.get("place"), arrived=t)
    for row in snap["edges"]:
        a, b, sp, sc, so, prox_ticks, messages, turns, shared = row[:9]
        extra: list[Any] = row[9:13] if len(row) >= 13 else [None, -1, -1, -1]
        speaker, prox_last, msg_last, shared_last = extra
        # Strengths as of the row's own tick (older rows: decayed to the snapshot's tick).
        s_tick = row[13] if len(row) > 13 else t
        state.edges[f"{a}|{b}"] = Edge(
            a, b, prox_ticks=prox_ticks, prox_last=prox_last, messages=messages, turns=turns,
            msg_last=msg_last, last_speaker=speaker, shared=shared, shared_last=shared_last,
            s_prox=sp, s_conv=sc, s_obj=so, s_tick=s_tick,
        )  # fmt: skip
    for oid, recent in snap.get("objects", {}).items():
        state.objects[oid] = ObjectStats(oid, recent=dict(recent))
    state.meta.position, state.meta.tick = snap["position"], t
    state.attach(None)
    return state


async def graph_as_of(
    redis: aioredis.Redis, keys: Keys, params: Params, as_of: int
) -> tuple[AnalyticsState, str]:
    """The state of the graph at the close of tick ``as_of``; and how it was had."""
    snap = await read_snapshot(redis, keys, as_of)
    scenario = await load_scenario(redis, keys)
    space = Space.from_scenario(scenario)
    if snap is not None:
        state = state_from_snapshot(snap, params, space)
        state.attach(scenario)
    else:  # from the seed of the current run (a stream may hold earlier runs before it)
        state = AnalyticsState.seeded(scenario, params)
        meta = await read_meta(redis, keys)
        state.meta.position = meta.run_start if meta else "0-0"
    if state.meta.tick >= as_of:
        return state, "snapshot"
    first = cast(Entries, await redis.xrange(keys.committed_events, "-", "+", count=1))
    if snap is not None and (not first or parse_id(first[0][0]) > parse_id(state.meta.position)):
        return state, "snapshot (the stream after it was trimmed)"
    start = f"({state.meta.position}"
    while True:
        chunk = cast(Entries, await redis.xrange(keys.committed_events, start, "+", count=CHUNK))
        if not chunk:
            return state, "replay (the stream ends before that tick)"
        for stream_id, fields in chunk:
            try:
                event = parse_event(fields)
            except EventError:
                continue
            if event.tick > as_of or state.starts_new_run(event):
                return state, "replay"
            state.apply(stream_id, event)
            if isinstance(event, TickEvent) and event.tick == as_of:
                return state, "replay"
        start = f"({chunk[-1][0]}"
