"""Stream retention that never drops an entry a consumer group has yet to read."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

StreamId = tuple[int, int]


def parse_id(stream_id: str) -> StreamId:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def format_id(sid: StreamId) -> str:
    return f"{sid[0]}-{sid[1]}"


async def safe_trim_point(redis: aioredis.Redis, stream: str) -> StreamId | None:
    """The lowest id some group still needs (unread or pending), or None with no groups.

    Every entry with a smaller id has been delivered to and acknowledged by every group.
    """
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream
        return None
    if not groups:
        return None
    safe: StreamId | None = None
    for group in groups:
        last = parse_id(group["last-delivered-id"])
        needed = (last[0], last[1] + 1)
        if group["pending"]:
            summary = await redis.xpending(stream, group["name"])
            # The group may have acknowledged everything since XINFO (then min is None).
            if summary["min"] is not None:
                needed = min(needed, parse_id(summary["min"]))
        safe = needed if safe is None else min(safe, needed)
    return safe


async def trim(redis: aioredis.Redis, stream: str, max_len: int, *, chunk: int = 10_000) -> int:
    """Trim ``stream`` towards ``max_len`` entries, never past any group's safe point.

    Returns how many entries were removed. Cheap when the stream is within bounds.
    """
    removed = 0
    while True:
        excess = await redis.xlen(stream) - max_len
        if excess <= 0:
            return removed
        safe = await safe_trim_point(redis, stream)
        # The id of the first entry we would keep if only the length mattered.
        count = min(excess, chunk)
        window = await redis.xrange(stream, "-", "+", count=count + 1)
        if not window:
            return removed
        if len(window) > count:
            target = parse_id(window[count][0])  # type: ignore[arg-type]
        else:  # every entry goes (max_len 0): keep from just after the last one
            last = parse_id(window[-1][0])  # type: ignore[arg-type]
            target = (last[0], last[1] + 1)
        if safe is not None:
            target = min(target, safe)
        n = await redis.xtrim(stream, minid=format_id(target), approximate=False)
        removed += n
        if n == 0:
            return removed
