"""``GET /api/events``: the committed log, newest first, filtered and paged by stream id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from scrai.api.deps import KeysDep, RedisDep
from scrai.api.streams import entry_json, is_stream_id

router = APIRouter(prefix="/api", tags=["events"])

# How many entries one request may look through to fill a filtered page; a filter
# that matches rarely returns a short page and a cursor to go on, never a slow request.
SCAN_BUDGET = 20_000
CHUNK = 500


class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int


def _matches(
    entry: dict[str, Any], agent: str | None, kinds: set[str] | None, tick_to: int | None
) -> bool:
    if agent is not None:
        observers = (entry.get("payload") or {}).get("observers") or []
        if entry.get("entity_id") != agent and agent not in observers:
            return False
    if kinds and entry["kind"] not in kinds and entry.get("type") not in kinds:
        return False
    tick = entry.get("tick")
    return not (tick_to is not None and tick is not None and tick > tick_to)


@router.get("/events", response_model=EventPage, summary="Committed events, newest first")
async def list_events(
    redis: RedisDep,
    keys: KeysDep,
    agent: str | None = Query(default=None, max_length=64, description="actor or observer"),
    type: list[str] | None = Query(
        default=None,
        description="event type (tick, world_state_committed) or action kind "
        "(move, speak, interact, idle); repeat for several",
    ),
    tick_from: int | None = Query(default=None, ge=0),
    tick_to: int | None = Query(default=None, ge=0),
    cursor: str | None = Query(
        default=None, max_length=42, description="next_cursor of the previous page"
    ),
    limit: int = Query(default=100, ge=1, le=1_000),
) -> EventPage:
    """Page through ``world_state_committed_events`` from the newest entry back.

    ``next_cursor`` is the stream id to continue from (exclusive), ``null`` at the start of the log.
    """
    if cursor is not None and not is_stream_id(cursor):
        raise HTTPException(422, detail="cursor must be a stream id like 1700000000000-0")
    kinds = set(type) if type else None
    high = f"({cursor}" if cursor else "+"
    found: list[dict[str, Any]] = []
    scanned = 0
    next_cursor: str | None = None
    while scanned < SCAN_BUDGET:
        chunk = await redis.xrevrange(keys.committed_events, high, "-", count=CHUNK)
        if not chunk:
            next_cursor = None
            break
        for stream_id, fields in chunk:
            scanned += 1
            next_cursor = stream_id
            entry = entry_json(stream_id, fields)
            tick = entry.get("tick")
            if tick_from is not None and tick is not None and tick < tick_from:
                # The log is in tick order: everything further back is older still.
                return EventPage(events=found, next_cursor=None, scanned=scanned)
            if _matches(entry, agent, kinds, tick_to):
                found.append(entry)
                if len(found) >= limit:
                    return EventPage(events=found, next_cursor=stream_id, scanned=scanned)
        if len(chunk) < CHUNK:
            next_cursor = None
            break
        high = f"({chunk[-1][0]}"
    return EventPage(events=found, next_cursor=next_cursor, scanned=scanned)
