"""The fixed shape of a scenario's world, indexed for fast per-tick lookups (pure).

Places never move, so distances, the places within a range and the next hop on
the way to a place are computed once per process and shared by every agent.
"""

from __future__ import annotations

from collections import deque

from scrai.scenario.model import Scenario, WorldObject

_INDEXES: dict[int, WorldIndex] = {}


class WorldIndex:
    """Places, links, objects and ranges of one scenario, with cached queries."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.places = {p.id: p for p in scenario.world.places}
        self.order = sorted(self.places)
        self.perception_range = scenario.simulation.perception_range
        self.hearing_range = scenario.simulation.hearing_range
        self.ticks_per_day = scenario.simulation.ticks_per_day
        links: dict[str, set[str]] = {pid: set() for pid in self.places}
        for place in scenario.world.places:
            for other in place.neighbors:
                if other in links:  # links are two-way
                    links[place.id].add(other)
                    links[other].add(place.id)
        limit = scenario.world.max_move_distance
        self.neighbors: dict[str, tuple[str, ...]] = {
            pid: tuple(sorted(o for o in others if limit is None or self.distance(pid, o) <= limit))
            for pid, others in links.items()
        }
        self.capacity = {p.id: p.capacity for p in scenario.world.places if p.capacity}
        self.names = {a.id: a.name for a in scenario.agents}
        self.homes = {a.id: a.place for a in scenario.agents}
        self.objects: dict[str, WorldObject] = {o.id: o for o in scenario.world.objects}
        self.objects_at: dict[str, list[str]] = {}
        for obj in sorted(scenario.world.objects, key=lambda o: o.id):
            self.objects_at.setdefault(obj.place, []).append(obj.id)
        self.by_tag: dict[str, list[str]] = {}
        for pid in self.order:
            for tag in self.places[pid].tags:
                self.by_tag.setdefault(tag, []).append(pid)
        self._near: dict[tuple[str, float], list[tuple[str, float]]] = {}
        self._hops: dict[str, dict[str, str]] = {}

    def distance(self, a: str, b: str) -> float:
        pa, pb = self.places[a].position, self.places[b].position
        return ((pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2) ** 0.5

    def near(self, place: str, radius: float) -> list[tuple[str, float]]:
        """Places within ``radius`` of ``place`` (itself first), nearest first."""
        key = (place, radius)
        found = self._near.get(key)
        if found is None:
            found = sorted(
                (
                    (q, self.distance(place, q))
                    for q in self.order
                    if self.distance(place, q) <= radius
                ),
                key=lambda item: (item[1], item[0]),
            )
            self._near[key] = found
        return found

    def next_hop(self, src: str, dst: str) -> str | None:
        """The neighbour of ``src`` on a shortest path to ``dst`` (fewest moves); None if none."""
        if src == dst or dst not in self.places:
            return None
        hops = self._hops.get(dst)
        if hops is None:
            hops = self._bfs_towards(dst)
            self._hops[dst] = hops
        return hops.get(src)

    def hops_between(self, src: str, dst: str) -> int | None:
        """How many moves from ``src`` to ``dst`` (None when unreachable)."""
        steps, here = 0, src
        while here != dst:
            nxt = self.next_hop(here, dst)
            if nxt is None:
                return None
            here, steps = nxt, steps + 1
        return steps

    def _bfs_towards(self, dst: str) -> dict[str, str]:
        # Search outward from the destination; each place's parent is its next hop.
        parent: dict[str, str] = {}
        seen = {dst}
        queue = deque([dst])
        while queue:
            here = queue.popleft()
            for other in self.neighbors[here]:
                if other not in seen:
                    seen.add(other)
                    parent[other] = here
                    queue.append(other)
        return parent

    def in_reach(self, place: str, object_id: str) -> bool:
        obj = self.objects[object_id]
        return self.distance(place, obj.place) <= obj.rules.reach


def world_index(scenario: Scenario) -> WorldIndex:
    """The shared index for ``scenario`` (one per scenario object in this process)."""
    index = _INDEXES.get(id(scenario))
    if index is None or index.scenario is not scenario:
        index = WorldIndex(scenario)
        _INDEXES[id(scenario)] = index
    return index
