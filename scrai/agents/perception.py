"""Perception: what an agent notices at the opening of a tick (pure).

The nearest few agents within perception range, the objects in range with their
state (in reach, in use, exhausted, reserved), the notable events of last tick it
witnessed, its own refusals, the places it can move to and which of them are full.
"""

from __future__ import annotations

from typing import Any

from scrai.agents.decision import Perception, Seen
from scrai.agents.geometry import WorldIndex
from scrai.agents.view import Happening, WorldView

MAX_SEEN_AGENTS = 12  # the nearest few are what it notices in a crowd


def perceive(
    idx: WorldIndex,
    view: WorldView,
    me: str,
    here: str,
    fresh: list[Happening],
    rejections: list[dict[str, Any]],
) -> Perception:
    t = view.tick
    agents: list[Seen] = []
    objects: list[Seen] = []
    for place, dist in idx.near(here, idx.perception_range):
        if len(agents) < MAX_SEEN_AGENTS:
            for other in view.at_place.get(place, ()):
                if other != me:
                    agents.append(
                        Seen("agent", other, place, dist, {"name": idx.names.get(other, other)})
                    )
                    if len(agents) >= MAX_SEEN_AGENTS:
                        break
        for oid in idx.objects_at.get(place, ()):
            obj, st = idx.objects[oid], view.objects.get(oid, {})
            resource = st.get("resource")
            detail = {
                "name": obj.name or obj.kind,
                "kind": obj.kind,
                "in_reach": dist <= obj.rules.reach,
                "satisfies": obj.satisfies,
                "users": st.get("users", []) if st.get("users_tick") == t - 1 else [],
                "exhausted": resource is not None and resource < obj.rules.cost_per_use,
                "allowed": obj.rules.allowed,
            }
            objects.append(Seen("object", oid, place, dist, detail))
    events = [seen_event(idx, h, here) for h in fresh if h.actor != me]
    reachable = idx.neighbors.get(here, ())
    full = [
        p
        for p in reachable
        if (cap := idx.capacity.get(p)) and len(view.at_place.get(p, ())) >= cap
    ]
    return Perception(t, here, agents, objects, events, rejections, list(reachable), full)


def seen_event(idx: WorldIndex, h: Happening, here: str) -> Seen:
    """A committed event of last tick as the agent saw or heard it."""
    place = h.place or here
    a = h.action
    detail = {
        "action": a.get("kind"),
        "tick": h.tick,
        "to": a.get("to"),
        "text": a.get("text"),
        "object_id": a.get("object_id"),
    }
    return Seen("event", h.actor, place, idx.distance(here, place), detail)
