"""An agent's inner state, and its round trip to the ``agent_mind`` hash.

The contract fields (needs, plan, plan_step, goals, relationships,
last_decision, tokens, last_tick, updated_at) are what the API shows; the
``state`` field holds the rest, so a restarted worker resumes the same mind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

EPISODES_KEPT = 10
LAST_SEEN_KEPT = 32


def dumps(value: object) -> str:
    """JSON text (orjson: the mind is saved every tick, so encoding speed matters)."""
    return orjson.dumps(value).decode()


@dataclass
class Mind:
    needs: dict[str, float]
    goals: list[dict[str, Any]]
    affinity: dict[str, float]
    plan: list[dict[str, Any]] = field(default_factory=list)
    plan_day: int = -1
    plan_step: dict[str, Any] | None = None
    last_tick: int = 0  # the last tick it acted for
    seen_tick: int = 0  # the last tick whose committed events it has taken in
    stream_pos: str = "0-0"  # where its tail of the committed stream stood after seen_tick
    place: str | None = None
    last_action: dict[str, Any] | None = None
    last_decision: dict[str, Any] | None = None
    last_seen: dict[str, str] = field(default_factory=dict)  # agent -> place where last seen
    visited: list[str] = field(default_factory=list)  # recent places, newest last
    episodes: list[dict[str, Any]] = field(default_factory=list)  # its own recent experiences
    reflections: list[dict[str, Any]] = field(default_factory=list)
    importance: float = 0.0  # accumulated since the last reflection
    interactions: dict[str, int] = field(default_factory=dict)  # agent -> conversations
    progress_tick: int = 0  # last tick a goal moved forward
    revisions: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    intent: dict[str, Any] | None = None  # where it is heading: {place, since, reason}
    run_id: str = ""  # the world run this mind lived in (a reseeded world starts minds over)
    rejection_tick: int = -1  # last rejection already taken into account

    def remember(
        self, tick: int, kind: str, text: str, importance: float, keywords: list[str]
    ) -> None:
        self.episodes.append(
            {
                "tick": tick,
                "kind": kind,
                "text": text,
                "importance": importance,
                "keywords": keywords,
            }
        )
        if len(self.episodes) > EPISODES_KEPT:
            del self.episodes[: len(self.episodes) - EPISODES_KEPT]
        self.importance += importance

    def revise(self, tick: int, why: str) -> None:
        self.revisions.append({"tick": tick, "why": why})
        del self.revisions[:-8]

    # -- persistence -----------------------------------------------------------------------

    def see(self, other: str, place: str) -> None:
        """Remember where ``other`` was last seen (bounded: the least recently seen go first)."""
        seen = self.last_seen
        if other in seen:
            del seen[other]  # re-insert: dict order is recency order
        seen[other] = place
        if len(seen) > LAST_SEEN_KEPT:
            del seen[next(iter(seen))]

    def to_hash(self, plan_json: str | None = None) -> dict[str, str]:
        """Fields for HSET on ``keys.agent_mind(id)`` (``plan_json``: the plan, already encoded)."""
        # The contract fields are stored once each; "state" holds the rest (no deep copy).
        state = {k: v for k, v in self.__dict__.items() if k not in _SEPARATE}
        return {
            "needs": dumps(self.needs),
            "plan": plan_json if plan_json is not None else dumps(self.plan),
            "plan_step": dumps(self.plan_step),
            "goals": dumps(self.goals),
            "relationships": dumps(self.affinity),
            "last_decision": dumps(self.last_decision),
            "tokens": str(self.tokens),
            "last_tick": str(self.last_tick),
            "updated_at": repr(time.time()),
            "state": dumps(state),
        }

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> Mind | None:
        """The mind saved by a previous worker, or None when there is none (or it is unreadable)."""
        raw = fields.get("state") if fields else None
        if not raw:
            return None
        try:
            data = orjson.loads(raw)
            data.update(
                needs=orjson.loads(fields["needs"]),
                plan=orjson.loads(fields["plan"]),
                plan_step=orjson.loads(fields["plan_step"]),
                goals=orjson.loads(fields["goals"]),
                affinity=orjson.loads(fields["relationships"]),
                last_decision=orjson.loads(fields["last_decision"]),
                tokens=int(fields["tokens"]),
                last_tick=int(fields["last_tick"]),
            )
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None


# Stored as fields of their own (the API reads them), so not repeated inside "state".
_SEPARATE = frozenset(
    {"needs", "plan", "plan_step", "goals", "affinity", "last_decision", "tokens", "last_tick"}
)
