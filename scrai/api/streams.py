"""Stream entries as JSON for clients, and stream-id arithmetic shared by the routes."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import redis.asyncio as aioredis

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def is_stream_id(value: str) -> bool:
    return bool(STREAM_ID.match(value))


def entry_json(stream_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """One stream entry as the API shows it: envelope fields typed, payload parsed.

    Entries are read leniently (a client wants to see what is there), so an entry
    that is not a valid event is shown with what can be read rather than failing.
    """
    out: dict[str, Any] = {"id": stream_id}
    for name in ("event_id", "type", "entity_id", "trace_id"):
        if name in fields:
            out[name] = fields[name]
    for name in ("sequence", "tick", "schema_version"):
        try:
            out[name] = int(fields[name])
        except (KeyError, ValueError):
            out[name] = None
    try:
        out["timestamp"] = float(fields.get("timestamp", "nan"))
    except ValueError:
        out["timestamp"] = None
    if out["timestamp"] != out["timestamp"]:  # NaN is not JSON
        out["timestamp"] = None
    try:
        out["payload"] = orjson.loads(fields.get("payload", "null"))
    except orjson.JSONDecodeError:
        out["payload"] = None
    out["kind"] = action_kind(out)
    return out


def action_kind(entry: dict[str, Any]) -> str:
    """``move``/``speak``/``interact``/``idle`` for actions, otherwise the event type."""
    payload = entry.get("payload")
    if isinstance(payload, dict):
        action = payload.get("action")
        if isinstance(action, dict) and isinstance(action.get("kind"), str):
            return action["kind"]
    return str(entry.get("type") or "unknown")


async def last_id(redis: aioredis.Redis, stream: str) -> str:
    """Id of the newest entry of ``stream``, ``0-0`` when empty or missing."""
    newest = await redis.xrevrange(stream, "+", "-", count=1)
    return newest[0][0] if newest else "0-0"


def decode_hash_json(raw: dict[str, str]) -> dict[str, Any]:
    """A hash whose values are JSON (or plain strings) as one dict."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            out[key] = value
    return out


def json_object(raw: str | None) -> dict[str, Any]:
    """A stored JSON object (an agent's or object's state); ``{}`` if absent or not an object."""
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
