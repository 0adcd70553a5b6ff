"""The analytics tables as plain records (pure: no I/O).

Each record serialises to one JSON value in one Redis hash field, so a batch
writes only the records it touched. Tie strengths are stored as the decayed
value at ``s_tick`` and decayed further only when read or added to, which keeps
ingestion proportional to the batch, not to the number of ties.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from analytics.params import Params

LN2 = math.log(2)

# (event_id, tick, kind): why a tie, a node or an object looks the way it does. Tuples, not
# lists: a tuple of strings and ints drops out of the cycle collector's sight, and a town
# holds tens of these per tie, so with lists every full collection walked them all (it was
# over half of ingestion's CPU time). Stored as JSON arrays, loaded back as tuples.
Evidence = Sequence[Any]


def rows(values: list[Any]) -> list[Evidence]:
    """Evidence rows as tuples (JSON gives lists)."""
    return [tuple(v) for v in values]


def edge_key(a: str, b: str) -> str:
    """The one key of an undirected pair (agent ids never contain ``|``)."""
    return f"{a}|{b}" if a < b else f"{b}|{a}"


@dataclass(slots=True)
class Edge:
    a: str
    b: str
    first_tick: int = 0
    # Proximity: ticks spent within the radius, and the last such tick.
    prox_ticks: int = 0
    prox_last: int = -1
    # Conversation: messages either way, turns (the floor changing hands), last tick.
    messages: int = 0
    turns: int = 0
    msg_last: int = -1
    last_speaker: str | None = None
    # Shared objects: uses of the same object close in time.
    shared: int = 0
    shared_last: int = -1
    # Decayed strength per kind, as of s_tick.
    s_prox: float = 0.0
    s_conv: float = 0.0
    s_obj: float = 0.0
    s_tick: int = 0
    peak: float = 0.0
    peak_tick: int = -1
    # When the tie last rose across the friendship threshold, and the event that did it.
    friends_tick: int | None = None
    friends_event: str | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.a}|{self.b}"

    def strengths(self, params: Params, tick: int) -> dict[str, float]:
        """Decayed strength per kind at ``tick`` (no mutation)."""
        f = params.decay(tick - self.s_tick)
        return {
            "proximity": self.s_prox * f,
            "conversation": self.s_conv * f,
            "shared_object": self.s_obj * f,
        }

    def strength(self, params: Params, tick: int) -> float:
        return (self.s_prox + self.s_conv + self.s_obj) * params.decay(tick - self.s_tick)

    def add(self, params: Params, kind: str, tick: int, event_id: str | None) -> None:
        """Add one contact of ``kind`` at ``tick``: decay to ``tick``, then add its weight."""
        # The hot path of ingestion: no helper calls, no dict lookups.
        if tick > self.s_tick:
            f = math.exp(-LN2 * (tick - self.s_tick) / params.tie_half_life_ticks)
            self.s_prox *= f
            self.s_conv *= f
            self.s_obj *= f
            self.s_tick = tick
        before = self.s_prox + self.s_conv + self.s_obj
        if kind == "proximity":
            w = params.proximity_weight
            self.s_prox += w
        elif kind == "conversation":
            w = params.conversation_weight
            self.s_conv += w
        else:
            w = params.shared_object_weight
            self.s_obj += w
        after = before + w
        if after > self.peak:
            self.peak, self.peak_tick = after, tick
        if before < params.friendship_threshold <= after:
            self.friends_tick, self.friends_event = tick, event_id

    def add_evidence(self, params: Params, event_id: str, tick: int, kind: str) -> None:
        self.evidence.append((event_id, tick, kind))
        if len(self.evidence) > params.evidence_per_edge:
            del self.evidence[0]  # keep the most recent: the story as it stands now

    def counters(self) -> dict[str, dict[str, Any]]:
        return {
            "proximity": {"ticks": self.prox_ticks, "last_tick": self.prox_last},
            "conversation": {
                "messages": self.messages,
                "turns": self.turns,
                "last_tick": self.msg_last,
            },
            "shared_object": {"uses": self.shared, "last_tick": self.shared_last},
        }


@dataclass(slots=True)
class Node:
    id: str
    name: str
    archetype: str | None = None
    place: str | None = None
    events: int = 0
    moves: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    uses: int = 0
    last_tick: int = -1
    last_event: str | None = None
    recent: list[Evidence] = field(default_factory=list)


@dataclass(slots=True)
class Movement:
    """Where an agent went: distance, visits, dwell (closed stays; open one since ``arrived``)."""

    id: str
    place: str | None = None
    arrived: int = 0
    distance: float = 0.0
    moves: int = 0
    visits: dict[str, int] = field(default_factory=dict)
    dwell: dict[str, int] = field(default_factory=dict)

    def dwell_at(self, tick: int) -> dict[str, int]:
        out = dict(self.dwell)
        if self.place is not None:
            out[self.place] = out.get(self.place, 0) + max(0, tick - self.arrived)
        return out


@dataclass(slots=True)
class PlaceStats:
    """Occupancy of a place, integrated lazily: agent-ticks up to ``t``, per window too."""

    id: str
    occupancy: int = 0
    t: int = 0
    agent_ticks: int = 0
    arrivals: int = 0
    windows: dict[str, int] = field(default_factory=dict)
    # Recent arrivals [event_id, tick, agent]: who made this place busy.
    log: list[Evidence] = field(default_factory=list)

    def advance(self, params: Params, tick: int) -> None:
        """Account the current occupancy for ticks ``t+1 .. tick``."""
        if tick <= self.t:
            return
        if self.occupancy:
            self.agent_ticks += self.occupancy * (tick - self.t)
            w = params.window_ticks
            start = self.t + 1
            while start <= tick:
                index = (start - 1) // w
                end = min(tick, (index + 1) * w)
                key = str(index)
                self.windows[key] = self.windows.get(key, 0) + self.occupancy * (end - start + 1)
                start = end + 1
            oldest = (tick - 1) // w - params.windows_kept + 1
            # Windows are added in time order (dicts and their JSON keep it): the old ones
            # are at the front, so only they are looked at.
            windows = self.windows
            while windows:
                first = next(iter(windows))
                if int(first) >= oldest:
                    break
                del windows[first]
        self.t = tick


@dataclass(slots=True)
class ObjectStats:
    id: str
    place: str | None = None
    uses: int = 0
    users: dict[str, int] = field(default_factory=dict)
    last_user: str | None = None
    last_tick: int = -1
    # Users of the current tick, for same-tick contention.
    tick_users: list[str] = field(default_factory=list)
    contention: int = 0
    contenders: dict[str, int] = field(default_factory=dict)
    # Last use tick per recent user, pruned to the shared-object window.
    recent: dict[str, int] = field(default_factory=dict)
    log: list[Evidence] = field(default_factory=list)
    contention_evidence: list[Evidence] = field(default_factory=list)


TABLES: dict[str, type] = {
    "edges": Edge,
    "nodes": Node,
    "movement": Movement,
    "places": PlaceStats,
    "objects": ObjectStats,
}


# A record is stored as the JSON array of its fields in declaration order: a third of the
# bytes of an object with its field names, for Redis to take in and the client to send
# on every batch, and taken from the record in one C call (attrgetter) for orjson.
# Records stored as JSON objects (by earlier versions) load too.
FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in TABLES.items()
}
ROW_OF: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    name: operator.attrgetter(*names) for name, names in FIELDS.items()
}
_ROW_BY_TYPE = {TABLES[name]: row for name, row in ROW_OF.items()}


# A tie in a snapshot: [a, b, s_prox, s_conv, s_obj, prox_ticks, messages, turns, shared,
# last_speaker, prox_last, msg_last, shared_last, s_tick], the strengths as of s_tick (rows
# of 13 values, from earlier versions, hold them decayed to the snapshot's tick).
SNAPSHOT_FIELDS = (
    "a", "b", "s_prox", "s_conv", "s_obj", "prox_ticks", "messages", "turns", "shared",
    "last_speaker", "prox_last", "msg_last", "shared_last", "s_tick",
)  # fmt: skip
SNAPSHOT_ROW = operator.attrgetter(*SNAPSHOT_FIELDS)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def dump(record: Any) -> str:
    """One record as stored, as text."""
    return orjson.dumps(_ROW_BY_TYPE[type(record)](record)).decode()


# The fields of each record that hold evidence rows.
ROW_FIELDS = {
    "edges": ("evidence",),
    "nodes": ("recent",),
    "places": ("log",),
    "objects": ("log", "contention_evidence"),
}


def load(table: str, raw: str | bytes) -> Any:
    """A record from its stored JSON: an array of its fields (or an object, as stored before)."""
    fields = orjson.loads(raw)
    cls = TABLES[table]
    record = cls(*fields) if isinstance(fields, list) else cls(**fields)
    for name in ROW_FIELDS.get(table, ()):
        setattr(record, name, rows(getattr(record, name)))
    return record


def as_dict(table: str, record: Any) -> dict[str, Any]:
    """A record's fields by name (what the API shows)."""
    return dict(zip(FIELDS[table], ROW_OF[table](record), strict=True))


@dataclass
class Meta:
    position: str = "0-0"
    tick: int = 0
    events: int = 0
    tick_event: str | None = None
    # The stream id just before the first entry of the current run ("0-0": the stream's
    # first run). A re-seeded world starts a new run on the same stream (ticks go back).
    run_start: str = "0-0"

    def as_fields(self) -> dict[str, str]:
        return {
            "position": self.position,
            "tick": str(self.tick),
            "events": str(self.events),
            "tick_event": self.tick_event or "",
            "run_start": self.run_start,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Meta:
        return cls(
            position=fields.get("position", "0-0"),
            tick=int(fields.get("tick", 0)),
            events=int(fields.get("events", 0)),
            tick_event=fields.get("tick_event") or None,
            run_start=fields.get("run_start") or "0-0",
        )
