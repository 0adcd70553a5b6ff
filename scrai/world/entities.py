"""The mutable state of the world's agents and objects, and its JSON form (pure).

These are the values of ``keys.agents_state`` and ``keys.objects_state``; the
same dicts appear as ``before``/``after`` in every committed event, so replaying
the committed log's ``after`` dicts rebuilds exactly what the world stores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class AgentState:
    place: str
    action_seq: int = 0  # last action sequence processed (committed or rejected)
    commit_seq: int = 0  # committed events for this agent: 1..n, gapless
    last_tick: int = 0  # tick of the last committed action
    last_rejection: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "action_seq": self.action_seq,
            "commit_seq": self.commit_seq,
            "last_tick": self.last_tick,
            "last_rejection": self.last_rejection,
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentState:
        return cls(
            place=data["place"],
            action_seq=int(data.get("action_seq", 0)),
            commit_seq=int(data.get("commit_seq", 0)),
            last_tick=int(data.get("last_tick", 0)),
            last_rejection=data.get("last_rejection"),
        )

    @classmethod
    def from_json(cls, raw: str) -> AgentState:
        return cls.from_dict(json.loads(raw))


@dataclass(slots=True)
class ObjectState:
    """An object's use so far.

    ``resource`` is the stock now (None: endless); the world refills it at the close
    of every tick, before that tick's actions (:func:`scrai.world.rules.refill`).
    """

    place: str
    resource: float | None = None
    uses: int = 0
    last_user: str | None = None
    users_tick: int = 0
    users: list[str] = field(default_factory=list)

    def users_at(self, tick: int) -> list[str]:
        """Who used it during ``tick`` (its per-tick capacity counts these)."""
        return self.users if self.users_tick == tick else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "resource": self.resource,
            "uses": self.uses,
            "last_user": self.last_user,
            "users_tick": self.users_tick,
            "users": list(self.users),
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectState:
        resource = data.get("resource")
        return cls(
            place=data["place"],
            resource=None if resource is None else float(resource),
            uses=int(data.get("uses", 0)),
            last_user=data.get("last_user"),
            users_tick=int(data.get("users_tick", 0)),
            users=list(data.get("users") or []),
        )

    @classmethod
    def from_json(cls, raw: str) -> ObjectState:
        return cls.from_dict(json.loads(raw))
