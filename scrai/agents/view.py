"""What a worker reads once per tick and shares with every agent it hosts (pure data).

``WorldView`` is the world at the opening of a tick; ``Happening`` is one
committed event of the previous tick, in the light form agents need (parsed
once per process, not once per agent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Happening:
    tick: int
    actor: str
    action: dict[str, Any]
    place: str | None  # the actor's place after the action
    observers: tuple[str, ...]
    objects: dict[str, dict[str, Any]]  # object id -> state after

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Happening | None:
        """A committed action from stream fields, or None for anything else (tick events...)."""
        if fields.get("type") != "world_state_committed":
            return None
        try:
            payload = orjson.loads(fields["payload"])
            actor = fields["entity_id"]
            after = payload.get("after") or {}
            me = after.get(f"agent:{actor}") or {}
            objects = {k[7:]: v for k, v in after.items() if k.startswith("object:")}
            return cls(
                tick=int(fields["tick"]),
                actor=actor,
                action=payload["action"],
                place=me.get("place"),
                observers=tuple(payload.get("observers") or ()),
                objects=objects,
            )
        except (KeyError, ValueError, TypeError, AttributeError):
            return None


@dataclass(slots=True)
class WorldView:
    tick: int
    run_id: str
    agents: dict[str, dict[str, Any]]  # agents_state, parsed
    objects: dict[str, dict[str, Any]]  # objects_state, parsed
    at_place: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.at_place:
            at: dict[str, list[str]] = {}
            for agent_id in sorted(self.agents):
                place = self.agents[agent_id].get("place")
                if place:
                    at.setdefault(place, []).append(agent_id)
            self.at_place = at
