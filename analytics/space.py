"""Which places are within a distance of each other (pure).

Built once per scenario with a spatial hash of cell size ``radius``, so even a
grid of 100,000 places is indexed in one pass instead of comparing all pairs.
"""

from __future__ import annotations

import math
from collections import defaultdict

from scrai.scenario.model import Scenario


class Space:
    def __init__(self, positions: dict[str, tuple[float, float]]) -> None:
        self.positions = positions
        self._near: dict[float, dict[str, list[str]]] = {}

    @classmethod
    def from_scenario(cls, scenario: Scenario | None) -> Space:
        if scenario is None:
            return cls({})
        return cls(
            {p.id: (float(p.position[0]), float(p.position[1])) for p in scenario.world.places}
        )

    def distance(self, a: str, b: str) -> float:
        pa, pb = self.positions.get(a), self.positions.get(b)
        if pa is None or pb is None:
            return 0.0 if a == b else math.inf
        return math.hypot(pa[0] - pb[0], pa[1] - pb[1])

    def near(self, radius: float) -> dict[str, list[str]]:
        """place -> the OTHER places within ``radius`` of it (both directions listed)."""
        cached = self._near.get(radius)
        if cached is not None:
            return cached
        out: dict[str, list[str]] = defaultdict(list)
        if radius > 0 and self.positions:
            cell = radius
            buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
            for pid, (x, y) in self.positions.items():
                buckets[(math.floor(x / cell), math.floor(y / cell))].append(pid)
            for (cx, cy), members in buckets.items():
                for dx in (-1, 0, 1):
                    for dy in (-1, 0, 1):
                        for other in buckets.get((cx + dx, cy + dy), ()):
                            for pid in members:
                                if pid != other and self.distance(pid, other) <= radius:
                                    out[pid].append(other)
        for pid in out:
            out[pid].sort()
        result = dict(out)
        self._near[radius] = result
        return result
