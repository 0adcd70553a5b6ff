"""The world's rules: whether an action may happen, and what it changes (pure, no I/O).

Two checks, in the order the world meets an action:

- :func:`admit`, when the action arrives: a known agent, a tick that is open or
  next, one action per agent per tick, and increasing sequence numbers.
- :func:`apply_action`, when its tick closes (agents in sorted id order): reach,
  range, capacity and the object's rules against the state as it stands after the
  agents before it. On acceptance it mutates the state and returns ``before``/``after``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrai.events import Action, Idle, Interact, Move, RejectReason, Speak
from scrai.scenario.model import ObjectRules, Scenario
from scrai.world.entities import AgentState, ObjectState


@dataclass(frozen=True, slots=True)
class Accepted:
    before: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    observers: list[str]


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    message: str


Outcome = Accepted | Rejected


class WorldMap:
    """The fixed facts of a scenario (places, links, ranges, object rules), indexed once."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.positions = {p.id: p.position for p in scenario.world.places}
        self.capacity = {p.id: p.capacity for p in scenario.world.places}
        links: dict[str, set[str]] = {pid: set() for pid in self.positions}
        for place in scenario.world.places:
            for other in place.neighbors:
                if other in links and other != place.id:  # links are two-way
                    links[place.id].add(other)
                    links[other].add(place.id)
        self.links = {pid: frozenset(others) for pid, others in links.items()}
        self.max_move = scenario.world.max_move_distance
        self.rules: dict[str, ObjectRules] = {o.id: o.rules for o in scenario.world.objects}
        self.object_place = {o.id: o.place for o in scenario.world.objects}
        self.refilling = sorted(
            o.id
            for o in scenario.world.objects
            if o.rules.refill_per_tick > 0 and o.rules.resource is not None
        )
        self.agent_ids = frozenset(a.id for a in scenario.agents)
        self.hearing_range = scenario.simulation.hearing_range
        self.perception_range = scenario.simulation.perception_range
        # Places never move: distances and neighbourhoods are computed once, on first use.
        self._distance: dict[tuple[str, str], float] = {}
        self._within: dict[tuple[str, float], tuple[str, ...]] = {}
        self._seen: dict[tuple[str, str], tuple[str, ...]] = {}

    def distance(self, a: str, b: str) -> float:
        key = (a, b)
        found = self._distance.get(key)
        if found is None:
            found = self._distance[key] = self.scenario.distance(a, b)
        return found

    def reachable(self, place: str) -> list[str]:
        """Places one move away: linked, and no farther than ``max_move_distance``."""
        return sorted(
            p
            for p in self.links.get(place, ())
            if self.max_move is None or self.distance(place, p) <= self.max_move
        )

    def places_within(self, place: str, radius: float) -> tuple[str, ...]:
        """Places (itself included) within ``radius`` of ``place``; cached, places never move."""
        key = (place, radius)
        found = self._within.get(key)
        if found is None:
            found = tuple(sorted(q for q in self.positions if self.distance(place, q) <= radius))
            self._within[key] = found
        return found

    def seen_from(self, origin: str, here: str) -> tuple[str, ...]:
        """Places within perception range of ``origin`` or ``here``: where an action that
        started at ``origin`` and ended at ``here`` is seen from (cached per pair)."""
        key = (origin, here)
        found = self._seen.get(key)
        if found is None:
            radius = self.perception_range
            places = set(self.places_within(origin, radius))
            places.update(self.places_within(here, radius))
            found = self._seen[key] = tuple(sorted(places))
        return found


@dataclass(slots=True)
class WorldState:
    """Every agent's and object's state, plus who is where (derived)."""

    agents: dict[str, AgentState]
    objects: dict[str, ObjectState]
    occupants: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.occupants:
            for agent_id, agent in self.agents.items():
                self.occupants.setdefault(agent.place, set()).add(agent_id)


def admit(
    agent: AgentState | None,
    *,
    agent_id: str,
    sequence: int,
    last_sequence: int,
    action_tick: int,
    last_closed: int,
    clock_tick: int,
    already_staged: bool,
) -> Rejected | None:
    """Checks on arrival. None: stage the action for its tick.

    ``last_sequence`` is the highest sequence processed or staged for the agent;
    ticks ``last_closed + 1 .. clock_tick + 1`` are accepted (the open tick and the next).
    """
    if agent is None:
        return Rejected(RejectReason.UNKNOWN_AGENT, f"no agent {agent_id!r} in this world")
    if action_tick <= last_closed:
        return Rejected(
            RejectReason.LATE, f"tick {action_tick} is closed (last closed {last_closed})"
        )
    if action_tick > clock_tick + 1:
        return Rejected(
            RejectReason.EARLY, f"tick {action_tick} is more than one ahead of tick {clock_tick}"
        )
    if already_staged:
        return Rejected(
            RejectReason.ALREADY_ACTED, f"{agent_id} already acted in tick {action_tick}"
        )
    if sequence <= last_sequence:
        return Rejected(
            RejectReason.OUT_OF_SEQUENCE,
            f"sequence {sequence} is not after {last_sequence}",
        )
    return None


def apply_action(
    world: WorldMap, state: WorldState, agent_id: str, action: Action, sequence: int, tick: int
) -> Outcome:
    """Validate ``action`` against ``state``; on acceptance apply it and say what changed."""
    agent = state.agents.get(agent_id)
    if agent is None:
        return Rejected(RejectReason.UNKNOWN_AGENT, f"no agent {agent_id!r} in this world")
    match action:
        case Move():
            verdict = _check_move(world, state, agent, action)
        case Speak():
            verdict = _check_speak(world, state, agent_id, agent, action)
        case Interact():
            verdict = _check_interact(world, state, agent_id, agent, action, tick)
        case Idle():
            verdict = None
    if verdict is not None:
        return verdict

    key = "agent:" + agent_id
    before = {key: agent.to_dict()}
    after: dict[str, dict[str, Any]] = {}
    origin = agent.place
    occupants = state.occupants
    if isinstance(action, Move):
        occupants[origin].discard(agent_id)
        occupants.setdefault(action.to, set()).add(agent_id)
        agent.place = action.to
    elif isinstance(action, Interact):
        _use(world, state, agent_id, action.object_id, tick, before, after)
    if sequence > agent.action_seq:
        agent.action_seq = sequence
    agent.commit_seq += 1
    agent.last_tick = tick
    after[key] = agent.to_dict()
    # Seen from where it started and where it ended (the same place unless a move).
    places = world.seen_from(origin, agent.place)
    observers = set().union(*[occupants[p] for p in places if p in occupants])
    observers.discard(agent_id)
    return Accepted(before, after, sorted(observers))


def refill(world: WorldMap, state: WorldState) -> list[str]:
    """Top up every object's stock by ``refill_per_tick``, up to ``max_resource``.

    Run once at the close of each tick, before its actions. Returns the objects changed.
    """
    changed = []
    for object_id in world.refilling:
        obj, rules = state.objects[object_id], world.rules[object_id]
        cap = rules.max_resource
        if obj.resource is None or (cap is not None and obj.resource >= cap):
            continue
        topped = obj.resource + rules.refill_per_tick
        obj.resource = topped if cap is None else min(cap, topped)
        changed.append(object_id)
    return changed


def record_rejection(agent: AgentState, sequence: int, tick: int, rejected: Rejected) -> None:
    """A rejected action still counts as processed: its sequence is used up."""
    agent.action_seq = max(agent.action_seq, sequence)
    agent.last_rejection = {
        "tick": tick,
        "reason": rejected.reason.value,
        "message": rejected.message,
    }


# -- the checks ------------------------------------------------------------------------


def _check_move(
    world: WorldMap, state: WorldState, agent: AgentState, move: Move
) -> Rejected | None:
    if move.to not in world.positions:
        return Rejected(RejectReason.UNKNOWN_TARGET, f"no place {move.to!r}")
    if move.to == agent.place:
        return Rejected(RejectReason.UNREACHABLE, f"already at {move.to}")
    if move.to not in world.links.get(agent.place, ()):
        return Rejected(RejectReason.UNREACHABLE, f"{move.to} is not linked to {agent.place}")
    if world.max_move is not None:
        distance = world.distance(agent.place, move.to)
        if distance > world.max_move:
            return Rejected(
                RejectReason.TOO_FAR,
                f"{move.to} is {distance:g} away; the longest move is {world.max_move:g}",
            )
    capacity = world.capacity.get(move.to)
    if capacity is not None and len(state.occupants.get(move.to, ())) >= capacity:
        return Rejected(RejectReason.CAPACITY_FULL, f"{move.to} is full ({capacity})")
    return None


def _check_speak(
    world: WorldMap, state: WorldState, agent_id: str, agent: AgentState, speak: Speak
) -> Rejected | None:
    if speak.to is None:
        return None
    listener = state.agents.get(speak.to)
    if listener is None or speak.to == agent_id:
        return Rejected(RejectReason.UNKNOWN_TARGET, f"no one called {speak.to!r} to speak to")
    distance = world.distance(agent.place, listener.place)
    if distance > world.hearing_range:
        return Rejected(
            RejectReason.OUT_OF_HEARING,
            f"{speak.to} is {distance:g} away; hearing range is {world.hearing_range:g}",
        )
    return None


def _check_interact(
    world: WorldMap, state: WorldState, agent_id: str, agent: AgentState, act: Interact, tick: int
) -> Rejected | None:
    rules = world.rules.get(act.object_id)
    obj = state.objects.get(act.object_id)
    if rules is None or obj is None:
        return Rejected(RejectReason.UNKNOWN_TARGET, f"no object {act.object_id!r}")
    if act.verb not in rules.verbs:
        return Rejected(
            RejectReason.UNSUPPORTED_VERB,
            f"{act.object_id} supports {', '.join(rules.verbs)}, not {act.verb!r}",
        )
    if rules.allowed and agent_id not in rules.allowed:
        return Rejected(RejectReason.NOT_ALLOWED, f"{agent_id} may not use {act.object_id}")
    distance = world.distance(agent.place, obj.place)
    if distance > rules.reach:
        return Rejected(
            RejectReason.OUT_OF_REACH,
            f"{act.object_id} is {distance:g} away; its reach is {rules.reach:g}",
        )
    if rules.capacity is not None and len(obj.users_at(tick)) >= rules.capacity:
        return Rejected(
            RejectReason.CAPACITY_FULL,
            f"{act.object_id} already has {rules.capacity} user(s) this tick",
        )
    stock = obj.resource
    if stock is not None and stock < rules.cost_per_use:
        return Rejected(
            RejectReason.RESOURCE_EXHAUSTED,
            f"{act.object_id} has {stock:g} left; a use costs {rules.cost_per_use:g}",
        )
    return None


def _use(
    world: WorldMap,
    state: WorldState,
    agent_id: str,
    object_id: str,
    tick: int,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> None:
    rules = world.rules[object_id]
    obj = state.objects[object_id]
    before[f"object:{object_id}"] = obj.to_dict()
    if obj.resource is not None:
        obj.resource -= rules.cost_per_use
    obj.users = [*obj.users_at(tick), agent_id]
    obj.users_tick = tick
    obj.uses += 1
    obj.last_user = agent_id
    after[f"object:{object_id}"] = obj.to_dict()
