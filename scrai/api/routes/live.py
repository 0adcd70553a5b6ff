"""``GET /api/live``: Server-Sent Events of committed events, ticks and analytics updates.

Each SSE ``id`` is the stream positions ``<committed>,<analytics>,<rejected>``
after that message, so a browser that reconnects (EventSource sends
``Last-Event-ID`` by itself) resumes exactly where it left off, losing nothing
and seeing nothing twice, as long as the streams still hold those entries.

A ``run`` message (no ``id``, so it does not move Last-Event-ID) says which run of the
world the messages after it belong to: one on every connect, one whenever the world is
seeded again (``world_meta``'s run_id changes) and one, with ``starts: true``, right
before the first entry of a new run (its tick goes back to or below the last tick that
closed, as the analytics detects a new run). A page that missed any one of them still
meets the next, so it cannot go on showing the old run as if it were the new one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import orjson
import redis.asyncio as aioredis
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import StreamingResponse

from scrai.api.deps import KeysDep, RedisDep, SettingsDep
from scrai.api.streams import entry_json, is_stream_id, last_id
from scrai.keys import Keys
from scrai.status import int_or_none

router = APIRouter(prefix="/api", tags=["live"])

BATCH = 500


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Same-origin pages and configured origins may listen; nobody else."""
    if not origin:
        return True  # not a browser cross-origin request (curl, same-origin navigation)
    if origin in allowed or "*" in allowed:
        return True
    return bool(host) and urlsplit(origin).netloc == host


Position = tuple[str, str, str]  # committed, analytics updates, rejected


def parse_position(value: str | None) -> Position | None:
    """``<committed id>,<analytics id>,<rejected id>`` as sent back in Last-Event-ID."""
    if not value:
        return None
    parts = value.split(",")
    if len(parts) == 3 and all(is_stream_id(p) for p in parts):
        return parts[0], parts[1], parts[2]
    return None


class RunWatch:
    """Which run one listener was last told of, and the last tick it saw close."""

    def __init__(self, meta: dict[str, str], closed: int | None) -> None:
        self.run_id = meta.get("run_id")
        self.closed = closed

    def starts_new_run(self, fields: dict[str, str]) -> bool:
        """Whether this committed entry is a new run's: within a run every entry after the
        TickEvent closing tick t is of a later tick."""
        tick = int_or_none(fields.get("tick"))
        if tick is None:
            return False
        new = self.closed is not None and tick <= self.closed
        if fields.get("type") == "tick":
            self.closed = tick
        elif new:
            self.closed = None  # the new run has closed no tick yet
        return new


def run_message(meta: dict[str, str], *, starts: bool) -> str:
    """The ``run`` message: the world's run as ``world_meta`` has it now."""
    try:
        seeded_at: float | None = float(meta["seeded_at"])
    except (KeyError, ValueError):
        seeded_at = None
    data = {
        "run_id": meta.get("run_id"),
        "scenario": meta.get("scenario"),
        "seeded_at": seeded_at,
        "starts": starts,
    }
    return sse("run", data)


async def closed_at(redis: aioredis.Redis, keys: Keys, position: str) -> int | None:
    """The last tick closed as of the committed entry at ``position`` (None if unknown)."""
    if position == "0-0":
        return None
    found = await redis.xrange(keys.committed_events, position, position, count=1)
    if not found:
        return None  # trimmed away: the run_id check still tells a new run apart
    fields = found[0][1]
    tick = int_or_none(fields.get("tick"))
    if tick is None:
        return None
    return tick if fields.get("type") == "tick" else tick - 1


def sse(event: str, data: object, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    # orjson: a tick of a thousand agents is a thousand messages, and the stdlib encoder
    # took most of the API's time per message (~70 of ~100 us), delaying the tick's tail.
    lines.append("data: " + orjson.dumps(data).decode())
    return "\n".join(lines) + "\n\n"


async def stream_messages(
    request: Request,
    redis: aioredis.Redis,
    keys: Keys,
    position: Position,
    heartbeat_s: float,
) -> AsyncIterator[str]:
    """SSE messages from ``position`` on, forever, with a comment every ``heartbeat_s`` of quiet."""
    streams = (keys.committed_events, keys.analytics_updates, keys.rejected_events)
    at = dict(zip(streams, position, strict=True))
    meta: dict[str, str] = await redis.hgetall(keys.world_meta)
    watch = RunWatch(meta, await closed_at(redis, keys, position[0]))
    # How long a browser waits before reconnecting after the connection drops.
    yield f"retry: 2000\n: resuming after {','.join(at.values())}\n\n"
    yield run_message(meta, starts=False)
    while not await request.is_disconnected():
        # world_meta read in the same round trip, as of the moment XREAD returns: a reseed
        # is seen within one heartbeat even when no entry follows it yet.
        async with redis.pipeline(transaction=False) as pipe:
            pipe.xread(at, count=BATCH, block=int(heartbeat_s * 1000))
            pipe.hgetall(keys.world_meta)
            reply, meta = await pipe.execute()
        chunks: list[str] = []
        announced = False
        for stream, entries in reply or ():
            for stream_id, fields in entries:
                at[stream] = stream_id
                if stream == keys.analytics_updates:
                    name, entry = "analytics", {"id": stream_id, **fields}
                else:
                    if stream == keys.committed_events and watch.starts_new_run(fields):
                        chunks.append(run_message(meta, starts=True))
                        announced = True
                    entry = entry_json(stream_id, fields)
                    if stream == keys.rejected_events:
                        name = entry["kind"] = "rejected"
                    else:
                        name = "tick" if entry.get("type") == "tick" else "event"
                chunks.append(sse(name, entry, ",".join(at.values())))
        if meta.get("run_id") != watch.run_id:
            watch.run_id = meta.get("run_id")
            if not announced:
                chunks.insert(0, run_message(meta, starts=False))
        yield "".join(chunks) if chunks else ": heartbeat\n\n"


@router.get(
    "/live",
    summary="Live stream (text/event-stream): events, ticks, rejections, analytics updates",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 403: {"description": "origin"}},
)
async def live(
    request: Request,
    redis: RedisDep,
    keys: KeysDep,
    settings: SettingsDep,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID", max_length=100),
) -> StreamingResponse:
    """Subscribe with ``new EventSource('/api/live')``. Messages: ``event`` (a committed
    action), ``tick`` (a tick closed), ``rejected`` (an action the world refused, with the
    reason), ``analytics`` (the graph changed; ``new_run`` on a new run's first),
    ``run`` (which run follows: on connect, on a reseed, and with ``starts`` before a new
    run's first entry)."""
    if not origin_allowed(
        request.headers.get("origin"), request.headers.get("host"), settings.cors_origins
    ):
        raise HTTPException(403, detail="this origin may not listen to the live stream")
    position = parse_position(last_event_id)
    if position is None:  # a fresh listener starts from now
        position = (
            await last_id(redis, keys.committed_events),
            await last_id(redis, keys.analytics_updates),
            await last_id(redis, keys.rejected_events),
        )
    heartbeat_s: float = request.app.state.live_heartbeat_s
    return StreamingResponse(
        stream_messages(request, redis, keys, position, heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
