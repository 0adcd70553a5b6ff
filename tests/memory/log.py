"""A small village and builders for the committed events the world system would write."""

from __future__ import annotations

import uuid

from scrai.events import (
    Action,
    CommittedPayload,
    Idle,
    Interact,
    Move,
    Speak,
    TickEvent,
    TickPayload,
    WorldStateCommittedEvent,
)
from scrai.scenario.model import Scenario


def place(pid: str, name: str, x: float, neighbors: list[str]) -> dict[str, object]:
    return {"id": pid, "name": name, "position": [x, 0], "neighbors": neighbors}


def village(**memory: object) -> Scenario:
    """Bakery and square 5 apart (earshot), the mill 12 away (seen, not heard), the park far."""
    return Scenario.model_validate(
        {
            "name": "village",
            "seed": 7,
            "world": {
                "places": [
                    place("bakery", "the Bakery", 0, ["square"]),
                    place("square", "the Square", 5, ["mill"]),
                    place("mill", "the Mill", 12, ["park"]),
                    place("park", "the Park", 40, []),
                ],
                "objects": [{"id": "oven", "kind": "oven", "place": "bakery"}],
            },
            "agents": [
                {
                    "id": "alice",
                    "name": "Alice",
                    "place": "bakery",
                    "relationships": [
                        {"target": "bob", "kind": "friend"},
                        {"target": "carol", "kind": "rival"},
                    ],
                },
                {"id": "bob", "name": "Bob", "place": "bakery"},
                {"id": "carol", "name": "Carol", "place": "square"},
                {"id": "eve", "name": "Eve", "place": "mill"},
                {"id": "dave", "name": "Dave", "place": "park"},
            ],
            "simulation": {"perception_range": 15, "hearing_range": 8, "ticks_per_day": 96},
            "memory": memory,
        }
    )


class Log:
    """Builds a gapless per-agent committed log, like the world system does."""

    def __init__(self, scenario: Scenario) -> None:
        self.seq: dict[str, int] = {}
        self.place = {a.id: a.place for a in scenario.agents}
        self.objects: dict[str, list[str]] = {}

    def commit(
        self, actor: str, tick: int, action: Action, observers: list[str] | tuple[str, ...] = ()
    ) -> WorldStateCommittedEvent:
        self.seq[actor] = self.seq.get(actor, 0) + 1
        before = {f"agent:{actor}": {"place": self.place[actor]}}
        if isinstance(action, Move):
            self.place[actor] = action.to
        after = {f"agent:{actor}": {"place": self.place[actor]}}
        if isinstance(action, Interact):
            users = [*self.objects.get(action.object_id, []), actor]
            self.objects[action.object_id] = users
            before[f"object:{action.object_id}"] = {"place": "bakery", "users": users[:-1]}
            after[f"object:{action.object_id}"] = {"place": "bakery", "users": users}
        action_id = uuid.uuid5(uuid.NAMESPACE_URL, f"scrai:run:{actor}:{self.seq[actor]}")
        return WorldStateCommittedEvent(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"commit:{action_id}"),
            entity_id=actor,
            sequence=self.seq[actor],
            tick=tick,
            payload=CommittedPayload(
                action_event_id=action_id,
                action=action,
                before=before,
                after=after,
                observers=sorted(observers),
            ),
        )

    def close(self, tick: int) -> TickEvent:
        self.objects.clear()
        return TickEvent(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tick:{tick}"),
            entity_id="world",
            sequence=tick,
            tick=tick,
            payload=TickPayload(state="running"),
        )


__all__ = ["Idle", "Interact", "Log", "Move", "Speak", "village"]
