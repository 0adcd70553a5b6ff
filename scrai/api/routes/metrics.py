"""``GET /metrics``: Prometheus text exposition, read from Redis on each scrape."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from redis.exceptions import ResponseError

from scrai.api.deps import KeysDep, RedisDep
from scrai.keys import Keys

router = APIRouter(tags=["metrics"])


class Exposition:
    """Collects samples and renders them with one HELP/TYPE header per metric."""

    def __init__(self) -> None:
        self._metrics: dict[str, tuple[str, str, list[str]]] = {}

    def add(self, name: str, kind: str, help_: str, value: float, **labels: str) -> None:
        entry = self._metrics.setdefault(name, (kind, help_, []))
        label_text = ",".join(
            f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
            for k, v in labels.items()
        )
        entry[2].append(f"{name}{{{label_text}}} {value!r}" if labels else f"{name} {value!r}")

    def render(self) -> str:
        out = []
        for name, (kind, help_, samples) in self._metrics.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *samples]
        return "\n".join(out) + "\n"


def _streams(keys: Keys) -> dict[str, str]:
    return {
        "action_events": keys.action_events,
        "world_state_committed_events": keys.committed_events,
        "world_state_rejected_events": keys.rejected_events,
        "analytics_updates": keys.analytics_updates,
    }


async def _stream_info(redis: aioredis.Redis, stream: str) -> dict | None:
    try:
        return await redis.xinfo_stream(stream)
    except ResponseError:  # no such stream yet
        return None


async def _last_tick_duration_s(redis: aioredis.Redis, keys: Keys) -> float | None:
    # A tick's TickEvent is the last entry the world writes for it, so it is at the tail.
    for _, fields in await redis.xrevrange(keys.committed_events, "+", "-", count=50):
        if fields.get("type") == "tick":
            try:
                return float(json.loads(fields["payload"]).get("duration_ms", 0.0)) / 1000
            except (KeyError, ValueError, TypeError, AttributeError):
                return None
    return None


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(redis: RedisDep, keys: KeysDep) -> PlainTextResponse:
    exp = Exposition()
    agents = await redis.hgetall(keys.agents_state)
    committed = 0
    for raw in agents.values():
        try:
            committed += int(json.loads(raw).get("commit_seq", 0))
        except (ValueError, TypeError, AttributeError):
            continue
    exp.add(
        "scrai_events_committed_total",
        "counter",
        "Actions the world system committed (sum of per-agent commit sequences)",
        committed,
    )
    rejected_info = await _stream_info(redis, keys.rejected_events)
    exp.add(
        "scrai_events_rejected_total",
        "counter",
        "Actions the world system rejected",
        (rejected_info or {}).get("entries-added", 0),
    )
    clock = await redis.hgetall(keys.clock)
    if clock.get("tick", "").isdigit():
        exp.add("scrai_tick", "gauge", "The currently open tick", int(clock["tick"]))
    exp.add("scrai_agents", "gauge", "Agents in the world state", len(agents))
    for label, stream in _streams(keys).items():
        info = await _stream_info(redis, stream)
        if info is None:
            continue
        exp.add(
            "scrai_stream_length", "gauge", "Entries in the stream", info["length"], stream=label
        )
        exp.add(
            "scrai_stream_entries_added_total",
            "counter",
            "Entries ever added to the stream",
            info.get("entries-added", info["length"]),
            stream=label,
        )
        for group in await redis.xinfo_groups(stream):
            lag = group.get("lag")
            exp.add(
                "scrai_consumer_group_pending",
                "gauge",
                "Entries delivered to the group and not yet acknowledged",
                group["pending"],
                stream=label,
                group=group["name"],
            )
            if lag is not None:
                exp.add(
                    "scrai_consumer_group_lag",
                    "gauge",
                    "Entries in the stream the group has not read yet",
                    lag,
                    stream=label,
                    group=group["name"],
                )
    duration = await _last_tick_duration_s(redis, keys)
    if duration is not None:
        exp.add(
            "scrai_tick_duration_seconds", "gauge", "How long the last closed tick took", duration
        )
    return PlainTextResponse(exp.render(), media_type="text/plain; version=0.0.4")
