"""A synthetic committed log, as the world would write it, for the consumers' benchmarks.

Every agent acts once per tick, in sorted id order, and a TickEvent closes the tick:
it moves to a linked place (30 %), speaks to whoever is in earshot (20 %), uses an
object at its place if there is one (10 %), or idles. ``observers`` (the memory
consolidator's audience) are the agents at its place or a linked one as the tick
began, at most that many; analytics does not read them, so its log carries none.
"""

from __future__ import annotations

import random
import uuid

from scrai.events import (
    Action,
    CommittedPayload,
    Event,
    Idle,
    Interact,
    Move,
    Speak,
    TickEvent,
    TickPayload,
    WorldStateCommittedEvent,
)
from scrai.scenario.model import Scenario


def committed_log(
    scenario: Scenario, ticks: int, *, seed: int = 1, observers: int = 0
) -> list[Event]:
    """``ticks`` ticks of committed events for ``scenario``'s cast, drawn from ``seed``."""
    rng = random.Random(seed)
    place = {a.id: a.place for a in scenario.agents}
    links: dict[str, set[str]] = {p.id: set() for p in scenario.world.places}
    for p in scenario.world.places:
        for other in p.neighbors:  # links are two-way
            links[p.id].add(other)
            links[other].add(p.id)
    linked = {p: sorted(others) for p, others in links.items()}
    objects_at: dict[str, list[str]] = {}
    for o in scenario.world.objects:
        objects_at.setdefault(o.place, []).append(o.id)
    seq = dict.fromkeys(place, 0)
    out: list[Event] = []
    for t in range(1, ticks + 1):
        by_place: dict[str, list[str]] = {}
        if observers:
            for agent_id, p in place.items():
                by_place.setdefault(p, []).append(agent_id)
        for agent_id in sorted(place):
            here = place[agent_id]
            near: list[str] = []
            if observers:
                around = (here, *linked[here])
                near = sorted(o for p in around for o in by_place.get(p, ()) if o != agent_id)
                near = near[:observers]
            roll = rng.random()
            action: Action
            if roll < 0.3 and linked[here]:
                action = Move(to=rng.choice(linked[here]))
            elif roll < 0.5:
                action = Speak(text="Are you coming to the festival tonight?")
            elif roll < 0.6 and objects_at.get(here):
                action = Interact(object_id=rng.choice(objects_at[here]))
            else:
                action = Idle()
            if isinstance(action, Move):
                place[agent_id] = action.to
            seq[agent_id] += 1
            out.append(
                WorldStateCommittedEvent(
                    entity_id=agent_id,
                    sequence=seq[agent_id],
                    tick=t,
                    payload=CommittedPayload(
                        action_event_id=uuid.uuid4(),
                        action=action,
                        before={f"agent:{agent_id}": {"place": here}},
                        after={f"agent:{agent_id}": {"place": place[agent_id]}},
                        observers=near,
                    ),
                )
            )
        out.append(
            TickEvent(entity_id="world", sequence=t, tick=t, payload=TickPayload(state="running"))
        )
    return out
