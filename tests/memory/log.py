"""Builds the committed events the world system would write, for the memory tests."""

from __future__ import annotations

import uuid

from scrai.events import (
    Action,
    CommittedPayload,
    Interact,
    Move,
    TickEvent,
    TickPayload,
    WorldStateCommittedEvent,
)
from scrai.scenario.model import Scenario


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
