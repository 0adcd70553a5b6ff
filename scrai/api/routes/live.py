"""``GET /api/live``: Server-Sent Events of committed events, ticks and analytics updates.

Each SSE ``id`` is the stream positions ``<committed>,<analytics>,<rejected>``
after that message, so a browser that reconnects (EventSource sends
``Last-Event-ID`` by itself) resumes exactly where it left off, losing nothing
and seeing nothing twice, as long as the streams still hold those entries.
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
    # How long a browser waits before reconnecting after the connection drops.
    yield f"retry: 2000\n: resuming after {','.join(at.values())}\n\n"
    while not await request.is_disconnected():
        reply = await redis.xread(at, count=BATCH, block=int(heartbeat_s * 1000))
        if not reply:
            yield ": heartbeat\n\n"
            continue
        chunks: list[str] = []
        for stream, entries in reply:
            for stream_id, fields in entries:
                at[stream] = stream_id
                if stream == keys.analytics_updates:
                    name, entry = "analytics", {"id": stream_id, **fields}
                else:
                    entry = entry_json(stream_id, fields)
                    if stream == keys.rejected_events:
                        name = entry["kind"] = "rejected"
                    else:
                        name = "tick" if entry.get("type") == "tick" else "event"
                chunks.append(sse(name, entry, ",".join(at.values())))
        yield "".join(chunks)


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
    reason), ``analytics`` (the graph changed)."""
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
