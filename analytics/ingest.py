"""Fold committed events into the analytics tables (pure: no I/O).

Everything here is decided per event, in stream order, never per batch, so the
tables do not depend on how the stream was cut into batches: a run killed and
resumed, a rebuild and an uninterrupted run all end with the same tables.

Proximity is counted when a tick closes (its ``TickEvent``), from the places
the agents were left in by that tick's committed events. Agents are bucketed by
place, so a tick costs the pairs that are actually close, not all pairs. In a
place holding more than ``proximity_crowd_cap`` agents the pairs are sampled:
each agent is counted near ``cap // 2`` neighbours on either side of a ring
shuffled with a seed drawn from (scenario seed, tick, place). Over many ticks a
pair in a crowd of ``n`` then gains proximity at about ``cap / (n - 1)`` of the
exact rate; a crowd at or under the cap is counted exactly. Likewise a message to
everyone in earshot of more than ``cap`` agents reaches a seeded sample of ``cap``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator

import orjson

from analytics.params import Params
from analytics.space import Space
from analytics.state import (
    SNAPSHOT_ROW,
    TABLES,
    Edge,
    Meta,
    Movement,
    Node,
    ObjectStats,
    PlaceStats,
)
from scrai.events import AnyEvent, Interact, Speak, TickEvent, WorldStateCommittedEvent
from scrai.scenario.model import Scenario

INF = float("inf")
RECENT_PER_NODE = 5
LOG_PER_OBJECT = 50
RECENT_PER_PLACE = 20


def event_ids(events: Iterable[AnyEvent]) -> list[str]:
    """The events' ids as text, in one orjson round trip for the lot (``str(UUID)`` is
    Python code, and it was a tenth of the fold's time)."""
    return orjson.loads(orjson.dumps([e.event_id for e in events]))  # type: ignore[no-any-return]


class AnalyticsState:
    """The tables in memory, plus which records changed since the last save."""

    def __init__(self, params: Params, space: Space) -> None:
        self.params = params
        self.space = space
        self.meta = Meta()
        self.edges: dict[str, Edge] = {}
        self.nodes: dict[str, Node] = {}
        self.movement: dict[str, Movement] = {}
        self.places: dict[str, PlaceStats] = {}
        self.objects: dict[str, ObjectStats] = {}
        self.dirty: dict[str, set[str]] = {name: set() for name in TABLES}
        # The same sets, at hand for the hot paths (changed in place, never replaced).
        self._dirty_nodes, self._dirty_edges = self.dirty["nodes"], self.dirty["edges"]
        self._dirty_movement, self._dirty_places = self.dirty["movement"], self.dirty["places"]
        self.snapshots: list[tuple[int, bytes]] = []
        # Each tie's snapshot row as JSON, kept between snapshots: a row holds no tick-dependent
        # value, so only the ties touched since the last snapshot are serialised again.
        self._snap_rows: dict[str, bytes] = {}
        self._snap_stale: set[str] = set()
        self._snap_order: list[str] = []  # the keys of the ties, sorted
        self._snap_new: list[str] = []  # ties made since the last snapshot
        self.occupants: dict[str, set[str]] = {}
        self._object_places: dict[str, str] = {}
        # The cast, when a scenario is known: a commit for anyone else (a forged or
        # stray entry) is not folded into the graph.
        self._cast: frozenset[str] | None = None

    # -- construction -------------------------------------------------------------------

    @classmethod
    def seeded(cls, scenario: Scenario | None, params: Params | None = None) -> AnalyticsState:
        """Fresh tables for ``scenario``: one node per agent at its starting place, as of tick 0."""
        state = cls(params or Params.from_scenario(scenario), Space.from_scenario(scenario))
        if scenario is None:
            return state
        state._object_places = {o.id: o.place for o in scenario.world.objects}
        state._cast = frozenset(a.id for a in scenario.agents)
        for agent in scenario.agents:
            node = state.nodes[agent.id] = Node(agent.id, agent.name, agent.archetype, agent.place)
            state.dirty["nodes"].add(node.id)
            state._arrive(agent.id, agent.place, 0)
        return state

    def starts_new_run(self, event: AnyEvent) -> bool:
        """Whether ``event`` belongs to a new run: ticks went back (the world was seeded again).

        Within a run every entry after the ``TickEvent`` closing tick t is of a later tick,
        so an entry at or before the last closed tick can only come from a new run.
        """
        return event.tick <= self.meta.tick

    def new_run(self, scenario: Scenario | None) -> AnalyticsState:
        """Fresh tables for the run that begins after this state's position, every record dirty
        (the stored tables of the old run are replaced as a whole)."""
        fresh = AnalyticsState.seeded(scenario)
        fresh.meta.position = fresh.meta.run_start = self.meta.position
        for name in TABLES:
            fresh.dirty[name].update(fresh.table(name))
        return fresh

    def attach(self, scenario: Scenario | None) -> None:
        """Set what is not stored in the tables (object places) after loading them."""
        if scenario is not None:
            self._object_places = {o.id: o.place for o in scenario.world.objects}
            self._cast = frozenset(a.id for a in scenario.agents)
        self.occupants = {}
        for m in self.movement.values():
            if m.place is not None:
                self.occupants.setdefault(m.place, set()).add(m.id)

    def table(self, name: str) -> dict:
        return getattr(self, name)

    # -- the fold ---------------------------------------------------------------------------

    def apply(self, stream_id: str, event: AnyEvent, event_id: str | None = None) -> None:
        """Fold one stream entry into the tables (``event_id``: its id as text, if at hand)."""
        self.meta.position = stream_id
        self.meta.events += 1
        if isinstance(event, WorldStateCommittedEvent):
            self._committed(event, event_id or str(event.event_id))
        elif isinstance(event, TickEvent):
            self._tick(event)

    def _committed(self, e: WorldStateCommittedEvent, eid: str) -> None:
        actor, t = e.entity_id, e.tick
        if self._cast is not None and actor not in self._cast:
            return
        action = e.payload.action
        node = self.nodes.get(actor)
        if node is None:
            node = self._node(actor)
        else:
            self._dirty_nodes.add(actor)
        node.events += 1
        node.last_tick, node.last_event = t, eid
        node.recent.append((eid, t, action.kind))
        if len(node.recent) > RECENT_PER_NODE:
            del node.recent[0]
        place = e.payload.after.get(f"agent:{actor}", {}).get("place")
        moved = self.movement.get(actor)  # read only: the record is rewritten only on a move
        if isinstance(place, str) and (moved is None or place != moved.place):
            self._arrive(actor, place, t, eid)
        if isinstance(action, Speak):
            self._speak(actor, action.to, t, eid, node)
        elif isinstance(action, Interact):
            obj_after = e.payload.after.get(f"object:{action.object_id}", {})
            self._interact(actor, action.object_id, obj_after.get("place"), t, eid)

    def _arrive(self, agent: str, place: str, t: int, eid: str | None = None) -> None:
        m = self._movement(agent)
        node = self._node(agent)
        if m.place is not None:
            m.dwell[m.place] = m.dwell.get(m.place, 0) + (t - m.arrived)
            distance = self.space.distance(m.place, place)
            if distance != INF:
                m.distance += distance
            m.moves += 1
            node.moves += 1
            old = self._place(m.place)
            old.advance(self.params, t)
            old.occupancy -= 1
            self.occupants.get(m.place, set()).discard(agent)
        m.place, m.arrived = place, t
        m.visits[place] = m.visits.get(place, 0) + 1
        node.place = place
        new = self._place(place)
        new.advance(self.params, t)
        new.occupancy += 1
        new.arrivals += 1
        if eid is not None:
            new.log.append((eid, t, agent))
            if len(new.log) > RECENT_PER_PLACE:
                del new.log[0]
        self.occupants.setdefault(place, set()).add(agent)

    def _speak(self, actor: str, to: str | None, t: int, eid: str, node: Node) -> None:
        node.messages_sent += 1
        if to is not None:
            listeners = [to] if to != actor else []
        else:
            moved = self.movement.get(actor)
            place = moved.place if moved else None
            listeners = sorted(
                a for a in self.within(place, self.params.hearing_range) if a != actor
            )
            cap = self.params.proximity_crowd_cap
            if len(listeners) > cap:  # shouting in a crowd: a seeded sample of it is reached
                rng = random.Random(f"{self.params.seed}:{eid}")
                listeners = sorted(rng.sample(listeners, cap))
        params, nodes = self.params, self.nodes
        for other in listeners:
            edge = self._edge(actor, other, t)
            edge.messages += 1
            if edge.last_speaker != actor:
                edge.turns += 1
            edge.last_speaker, edge.msg_last = actor, t
            edge.add(params, "conversation", t, eid)
            edge.add_evidence(params, eid, t, "conversation")
            listener = nodes.get(other)
            if listener is None:
                listener = self._node(other)
            else:
                self._dirty_nodes.add(other)
            listener.messages_received += 1

    def _interact(self, actor: str, obj_id: str, place: object, t: int, eid: str) -> None:
        o = self.objects.get(obj_id)
        if o is None:
            o = self.objects[obj_id] = ObjectStats(obj_id, self._object_places.get(obj_id))
        self.dirty["objects"].add(obj_id)
        if isinstance(place, str):
            o.place = place
        o.uses += 1
        o.users[actor] = o.users.get(actor, 0) + 1
        o.last_user = actor
        o.log.append((eid, t, actor))
        if len(o.log) > LOG_PER_OBJECT:
            del o.log[0]
        if o.last_tick == t:
            if actor not in o.tick_users:
                o.contention += 1
                if len(o.tick_users) == 1:
                    first = o.tick_users[0]
                    o.contenders[first] = o.contenders.get(first, 0) + 1
                o.contenders[actor] = o.contenders.get(actor, 0) + 1
                o.contention_evidence.append((eid, t, "same_tick"))
                if len(o.contention_evidence) > LOG_PER_OBJECT:
                    del o.contention_evidence[0]
                o.tick_users.append(actor)
        else:
            o.tick_users = [actor]
        o.last_tick = t
        window = self.params.shared_object_window_ticks
        for other, last in sorted(o.recent.items()):
            if other != actor and t - last <= window:
                edge = self._edge(actor, other, t)
                edge.shared += 1
                edge.shared_last = t
                edge.add(self.params, "shared_object", t, eid)
                edge.add_evidence(self.params, eid, t, "shared_object")
        o.recent[actor] = t
        o.recent = {a: last for a, last in o.recent.items() if t - last <= window}
        self._node(actor).uses += 1

    def _tick(self, e: TickEvent) -> None:
        t = e.tick
        tick_event = str(e.event_id)
        self.meta.tick, self.meta.tick_event = t, tick_event
        params, edges, dirty, stale = self.params, self.edges, self._dirty_edges, self._snap_stale
        for a, b in self.close_pairs(t):
            key = f"{a}|{b}" if a < b else f"{b}|{a}"
            edge = edges.get(key)
            if edge is None:
                edge = self._edge(a, b, t)
            elif edge.prox_last == t:
                continue
            else:
                dirty.add(key)
                stale.add(key)
            eid = tick_event
            if edge.prox_last != t - 1:  # a new spell together: say what started it
                eid = self._latest_event(a, b) or tick_event
                edge.add_evidence(params, eid, t, "proximity")
            edge.prox_ticks += 1
            edge.prox_last = t
            edge.add(params, "proximity", t, eid)
        if t % params.snapshot_every_ticks == 0:
            self.snapshots.append((t, self.snapshot_body(t)))

    def _latest_event(self, a: str, b: str) -> str | None:
        """The later of the two agents' last events (the one that brought them together)."""
        na, nb = self.nodes.get(a), self.nodes.get(b)
        if na is None or na.last_event is None:
            return nb.last_event if nb else None
        if nb is None or nb.last_event is None or na.last_tick >= nb.last_tick:
            return na.last_event
        return nb.last_event

    # -- proximity --------------------------------------------------------------------------

    def within(self, place: str | None, radius: float) -> Iterator[str]:
        """Agents at ``place`` or at a place within ``radius`` of it."""
        if place is None:
            return
        yield from self.occupants.get(place, ())
        for other in self.space.near(radius).get(place, ()):
            yield from self.occupants.get(other, ())

    def close_pairs(self, t: int) -> Iterator[tuple[str, str]]:
        """Pairs within the proximity radius at the close of tick ``t`` (sampled in crowds)."""
        cap = self.params.proximity_crowd_cap
        near = self.space.near(self.params.proximity_radius)
        for place in sorted(p for p, occ in self.occupants.items() if occ):
            here = sorted(self.occupants[place])
            if len(here) <= cap:
                yield from itertools.combinations(here, 2)
            else:
                yield from self._ring_pairs(
                    here, cap // 2, random.Random(f"{self.params.seed}:{t}:{place}")
                )
            for other in near.get(place, ()):
                there = self.occupants.get(other)
                if other > place and there:
                    yield from self._cross_pairs(here, sorted(there), cap, t, place, other)

    @staticmethod
    def _ring_pairs(agents: list[str], k: int, rng: random.Random) -> Iterator[tuple[str, str]]:
        order = list(agents)
        rng.shuffle(order)
        n = len(order)
        for i, a in enumerate(order):
            for j in range(1, k + 1):
                if j > n // 2 or (2 * j == n and i >= n // 2):
                    break  # each unordered pair once even when the ring wraps
                yield a, order[(i + j) % n]

    def _cross_pairs(
        self, here: list[str], there: list[str], cap: int, t: int, place: str, other: str
    ) -> Iterator[tuple[str, str]]:
        if len(here) * len(there) <= cap * cap:
            yield from itertools.product(here, there)
            return
        rng = random.Random(f"{self.params.seed}:{t}:{place}:{other}")
        k = min(len(there), cap // 2)
        for a in here:
            for b in rng.sample(there, k):
                yield a, b

    # -- records ----------------------------------------------------------------------------

    def _node(self, agent: str) -> Node:
        node = self.nodes.get(agent)
        if node is None:
            node = self.nodes[agent] = Node(agent, agent)
        self._dirty_nodes.add(agent)
        return node

    def _movement(self, agent: str) -> Movement:
        m = self.movement.get(agent)
        if m is None:
            m = self.movement[agent] = Movement(agent)
        self._dirty_movement.add(agent)
        return m

    def _place(self, place: str) -> PlaceStats:
        p = self.places.get(place)
        if p is None:
            p = self.places[place] = PlaceStats(place)
        self._dirty_places.add(place)
        return p

    def _edge(self, a: str, b: str, t: int) -> Edge:
        key = f"{a}|{b}" if a < b else f"{b}|{a}"  # edge_key(a, b), inlined: per contact
        edge = self.edges.get(key)
        if edge is None:
            lo, hi = (a, b) if a < b else (b, a)
            edge = self.edges[key] = Edge(lo, hi, first_tick=t, s_tick=t)
            self._snap_new.append(key)
        self._dirty_edges.add(key)
        self._snap_stale.add(key)
        return edge

    # -- snapshots --------------------------------------------------------------------------

    def snapshot_body(self, t: int) -> bytes:
        """The graph at tick ``t`` as JSON: nodes, each edge's row (see ``SNAPSHOT_ROW``: its
        strengths as of its ``s_tick``, readers decay them to ``t``), recent object users."""
        edges, rows, order, stale = self.edges, self._snap_rows, self._snap_order, self._snap_stale
        if self._snap_new:  # ties are never removed: the sorted keys so far, plus the new ones
            order += self._snap_new
            order.sort()
            self._snap_new = []
        if len(order) != len(edges):  # tables loaded, not folded: no keys so far
            order[:] = sorted(edges)
        if 3 * len(stale) > len(edges):
            # Many ties changed since the last snapshot (a young graph): one orjson call for
            # all the rows costs less than one per row (under half as much); none is kept.
            rows.clear()
            edge_rows = orjson.dumps(list(map(SNAPSHOT_ROW, map(edges.__getitem__, order))))
        else:  # serialise the changed rows only (all of them, the first time)
            for key in stale | (edges.keys() - rows.keys()):
                rows[key] = orjson.dumps(SNAPSHOT_ROW(edges[key]))
            edge_rows = b"".join((b"[", b",".join([rows[k] for k in order]), b"]"))
        stale.clear()
        nodes = {
            n.id: {"name": n.name, "archetype": n.archetype, "place": n.place}
            for n in self.nodes.values()
        }
        # With the recent users of each object, the snapshot is enough to replay the
        # graph forward from here (see analytics.history).
        objects = {o.id: o.recent for o in self.objects.values() if o.recent}
        head = orjson.dumps({"tick": t, "position": self.meta.position, "nodes": nodes})
        tail = orjson.dumps(objects)
        return b"".join((head[:-1], b',"edges":', edge_rows, b',"objects":', tail, b"}"))
