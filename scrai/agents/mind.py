"""An agent's inner state, and its round trip to the ``agent_mind`` hash.

The contract fields (needs, plan, plan_step, goals, relationships,
last_decision, tokens, last_tick, updated_at) are what the API shows; the
``state`` field holds the rest, so a restarted worker resumes the same mind.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

EPISODES_KEPT = 12


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

    def to_hash(self) -> dict[str, str]:
        """Fields for HSET on ``keys.agent_mind(id)``."""
        state = asdict(self)
        return {
            "needs": json.dumps(self.needs),
            "plan": json.dumps(self.plan),
            "plan_step": json.dumps(self.plan_step),
            "goals": json.dumps(self.goals),
            "relationships": json.dumps(self.affinity),
            "last_decision": json.dumps(self.last_decision),
            "tokens": str(self.tokens),
            "last_tick": str(self.last_tick),
            "updated_at": repr(time.time()),
            "state": json.dumps(state, separators=(",", ":")),
        }

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> Mind | None:
        """The mind saved by a previous worker, or None when there is none (or it is unreadable)."""
        raw = fields.get("state") if fields else None
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return None
