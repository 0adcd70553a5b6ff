"""Builds the committed events the world system would write, for the memory tests."""

from __future__ import annotations

from scrai.events import Action, Interact, Move, TickEvent, WorldStateCommittedEvent
from scrai.scenario.model import Scenario
from tests.events_factory import committed, tick_event


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
        return committed(
            actor, self.seq[actor], tick, action, before=before, after=after, observers=observers
        )

    def close(self, tick: int) -> TickEvent:
        self.objects.clear()
        return tick_event(tick)
