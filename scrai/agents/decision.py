"""What a brain is given and what it gives back (pure data, no I/O).

The cognitive agent builds a :class:`DecisionContext` each tick; a :class:`Brain`
(rule or LLM) returns a :class:`Decision`: one action and the short trace of why,
which the API and dashboard show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from scrai.events import Action


@dataclass(frozen=True, slots=True)
class Seen:
    """Something perceived: an agent, an object, or an event of last tick."""

    kind: str  # "agent" | "object" | "event"
    id: str
    place: str
    distance: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Perception:
    tick: int
    place: str
    agents: list[Seen]
    objects: list[Seen]
    events: list[Seen]  # what it saw and heard last tick (speech carries "text")
    rejections: list[dict[str, Any]]  # its own rejected actions: {tick, reason, message}
    reachable_places: list[str]
    full_places: list[str] = field(default_factory=list)  # reachable places at capacity now


@dataclass(frozen=True, slots=True)
class RecalledMemory:
    id: str
    tick: int
    kind: str
    text: str
    score: float
    importance: float


@dataclass(frozen=True, slots=True)
class DecisionContext:
    agent_id: str
    tick: int
    perception: Perception
    memories: list[RecalledMemory]
    needs: dict[str, float]  # 0 (met) .. 1 (urgent): social, rest, curiosity, goal
    plan_step: dict[str, Any] | None
    goals: list[dict[str, Any]]
    relationships: dict[str, float]  # other agent id -> current affinity (-1 .. 1)
    seed: int
    # Where it last saw others (agent id -> place), and the places it visited lately (newest last).
    last_seen: dict[str, str] = field(default_factory=dict)
    visited: list[str] = field(default_factory=list)
    # Where it was heading (``{"place", "since", "reason"}``), so a brain can keep to a course.
    intent: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    brain: str  # "rule" | "llm" | "llm-fallback"
    trace: dict[str, Any] = field(default_factory=dict)  # memories, plan step, needs, scores
    tokens: int = 0


class Brain(Protocol):
    name: str

    async def decide(self, ctx: DecisionContext) -> Decision: ...

    async def aclose(self) -> None: ...
