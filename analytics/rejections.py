"""Rejected actions, counted per object, agent and reason (pure counting, queued writes).

The contested-object insight reads these counters with the object table: a
rejection for a full object is a contest its winner and loser both took part in.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio.client import Pipeline

from scrai.events import Interact, WorldStateRejectedEvent
from scrai.keys import Keys

REJECTION_EVIDENCE_KEPT = 500


def count_rejections(
    entries: list[tuple[str, Any]],
) -> tuple[dict[str, int], list[list[Any]]]:
    """Counter increments (``<object>``, ``<object>|<agent>``, ``agent:<id>``, ``reason:<r>``) and
    evidence rows ``[event_id, tick, agent, object, reason]`` for rejected events (pure)."""
    counts: dict[str, int] = {}
    evidence: list[list[Any]] = []
    for _, event in entries:
        if not isinstance(event, WorldStateRejectedEvent):
            continue
        action, agent = event.payload.action, event.entity_id
        reason = event.payload.reason.value
        obj = action.object_id if isinstance(action, Interact) else None
        names = [f"reason:{reason}", f"agent:{agent}"]
        if obj is not None:
            names += [obj, f"{obj}|{agent}"]
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        evidence.append([str(event.event_id), event.tick, agent, obj, reason])
    return counts, evidence


def last_run(entries: list[tuple[str, Any]], tick: int) -> tuple[list[tuple[str, Any]], bool, int]:
    """The entries of the latest run, whether a new run began in them, and the tick reached.

    Rejections of one run come in tick order, several to a tick; a tick lower than the
    one reached (``tick``, from earlier entries) means the world was seeded again (pure).
    """
    start, new_run = 0, False
    for i, (_, event) in enumerate(entries):
        if event.tick < tick:
            start, new_run = i, True
        tick = event.tick
    return entries[start:], new_run, tick


def queue_rejections(
    tx: Pipeline, keys: Keys, entries: list[tuple[str, Any]], tick: int = 0
) -> int:
    """Queue rejection counters and evidence for ``entries``, and advance the rejected position.

    ``tick`` is the tick the counters are at; when the entries start a new run, the counters
    of the old one are deleted first. Returns the tick reached.
    """
    if not entries:
        return tick
    position = entries[-1][0]
    entries, new_run, tick = last_run(entries, tick)
    if new_run:
        tx.delete(keys.analytics("rejections"), keys.analytics("rejections:evidence"))
    counts, evidence = count_rejections(entries)
    for name, n in counts.items():
        tx.hincrby(keys.analytics("rejections"), name, n)
    if evidence:
        tx.rpush(keys.analytics("rejections:evidence"), *(json.dumps(e) for e in evidence))
        tx.ltrim(keys.analytics("rejections:evidence"), -REJECTION_EVIDENCE_KEPT, -1)
    tx.hset(keys.analytics("meta"), mapping={"rejected_position": position, "rejected_tick": tick})
    return tick
