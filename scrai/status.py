"""``scrai status``: one look at a running simulation, read from Redis only.

The clock (tick, state, speed), who is alive, and for each stream its length,
dead letters and, per consumer group, how far behind it is (``lag``: entries not
yet delivered to the group; ``pending``: delivered but not acknowledged). A group
whose lag keeps growing is a consumer that cannot keep up.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from scrai.keys import Keys


@dataclass
class GroupStatus:
    name: str
    consumers: int
    pending: int
    lag: int | None  # None: the server cannot tell (entries trimmed past the group)
    last_delivered: str


@dataclass
class StreamStatus:
    name: str
    length: int
    dead_letters: int
    groups: list[GroupStatus] = field(default_factory=list)


@dataclass
class Status:
    namespace: str
    scenario: str | None
    run_id: str | None
    tick: int | None
    last_closed: int | None
    state: str
    speed: float | None
    agents_alive: int
    agents_known: int
    streams: list[StreamStatus]
    waiting_for: list[str] = field(default_factory=list)  # readers holding the clock
    awaiting_cast: bool = False  # a new run's first tick waits for its agents

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def int_or_none(value: Any) -> int | None:
    """A stored number as an int; None when absent or unreadable."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def float_or_none(value: Any) -> float | None:
    """A stored number as a float; None when absent or unreadable."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def stream_names(keys: Keys) -> list[str]:
    """The streams a simulation runs on, in the order data flows through them."""
    return [
        keys.action_events,
        keys.committed_events,
        keys.rejected_events,
        keys.analytics_updates,
    ]


async def _groups(redis: aioredis.Redis, stream: str) -> list[GroupStatus]:
    try:
        raw = await redis.xinfo_groups(stream)
    except ResponseError:  # no such stream yet
        return []
    return [
        GroupStatus(
            name=str(g["name"]),
            consumers=int(g["consumers"]),
            pending=int(g["pending"]),
            lag=int_or_none(g.get("lag")),
            last_delivered=str(g["last-delivered-id"]),
        )
        for g in raw
    ]


async def read_status(redis: aioredis.Redis, keys: Keys) -> Status:
    """Everything ``scrai status`` shows, in a few round trips."""
    now = time.time()
    async with redis.pipeline(transaction=False) as p:
        p.hgetall(keys.clock)
        p.hgetall(keys.world_meta)
        p.get(keys.scenario)
        p.zcount(keys.agents_alive, now, "+inf")
        p.zcard(keys.agents_alive)
        p.hlen(keys.agents_state)
        p.get(keys.health("world"))
        names = stream_names(keys)
        for name in names:
            p.xlen(name)
            p.xlen(keys.dead_letter(name))
        (
            clock,
            meta,
            scenario_json,
            alive,
            known_alive,
            known_state,
            world,
            *lengths,
        ) = await p.execute()
    health = json.loads(world) if world else {}
    scenario = meta.get("scenario")
    if scenario is None and scenario_json:
        scenario = json.loads(scenario_json).get("name")
    streams = [
        StreamStatus(name, lengths[2 * i], lengths[2 * i + 1], await _groups(redis, name))
        for i, name in enumerate(names)
    ]
    return Status(
        namespace=keys.namespace,
        scenario=scenario,
        run_id=meta.get("run_id"),
        tick=int_or_none(clock.get("tick")),
        last_closed=int_or_none(clock.get("last_closed")),
        state=clock.get("state", "not started"),
        speed=float_or_none(clock.get("speed")),
        agents_alive=int(alive),
        agents_known=max(int(known_alive), int(known_state)),
        streams=streams,
        waiting_for=list(health.get("waiting_for", [])),
        awaiting_cast=bool(health.get("awaiting_cast")),
    )


def format_status(status: Status) -> list[str]:
    """The status as the lines the command prints."""
    lines = [
        f"namespace   {status.namespace or '(default)'}",
        f"scenario    {status.scenario or '-'}  run {status.run_id or '-'}",
        f"clock       tick {status.tick if status.tick is not None else '-'} "
        f"(last closed {status.last_closed if status.last_closed is not None else '-'}) "
        f"{status.state}, speed {status.speed if status.speed is not None else '-'}"
        + (f"; held for {', '.join(status.waiting_for)} to catch up" if status.waiting_for else "")
        + ("; the first tick waits for the agents" if status.awaiting_cast else ""),
        f"agents      {status.agents_alive} alive of {status.agents_known}",
        "",
        f"{'stream':<40} {'length':>9} {'dead':>6}  group: lag / pending (consumers)",
    ]
    for s in status.streams:
        groups = ", ".join(
            f"{g.name}: {'?' if g.lag is None else g.lag} / {g.pending} ({g.consumers})"
            for g in s.groups
        )
        lines.append(f"{s.name:<40} {s.length:>9} {s.dead_letters:>6}  {groups or '-'}")
    return lines
