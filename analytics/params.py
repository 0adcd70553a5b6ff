"""The numbers analytics works with, read from a scenario (pure).

The scenario's ``analytics`` section gives the radius, half-life, thresholds and
schedules; the weights of each kind of contact and the detector thresholds have
defaults here and can be set in the same section when the scenario model grows
those fields (read with ``getattr``), so older scenarios keep working.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from scrai.scenario.model import Scenario

KINDS = ("proximity", "conversation", "shared_object")


@dataclass(frozen=True, slots=True)
class Params:
    seed: int = 0
    proximity_radius: float = 5.0
    hearing_range: float = 8.0
    tie_half_life_ticks: float = 200.0
    friendship_threshold: float = 5.0
    metrics_interval_s: float = 2.0
    snapshot_every_ticks: int = 10
    evidence_per_edge: int = 20
    # Tie strength added per tick spent within the radius, per message, per shared use.
    proximity_weight: float = 0.1
    conversation_weight: float = 1.0
    shared_object_weight: float = 0.5
    # Two uses of the same object this close in ticks make a shared-object contact.
    shared_object_window_ticks: int = 5
    # Above this many agents within one place, proximity pairs are sampled (see ingest).
    proximity_crowd_cap: int = 60
    # Ties weaker than this are left out of the metrics graph (an acquaintance at most).
    min_tie_strength: float = 0.5
    # Louvain's resolution: above 1 favours smaller communities, below 1 larger ones.
    louvain_resolution: float = 1.0
    # Movement trends are bucketed into windows of this many ticks.
    window_ticks: int = 20
    windows_kept: int = 12
    snapshots_kept: int = 100

    @property
    def decay_per_tick(self) -> float:
        return math.log(2) / self.tie_half_life_ticks

    def decay(self, dt: float) -> float:
        """Factor a tie keeps after ``dt`` ticks."""
        return math.exp(-self.decay_per_tick * dt) if dt > 0 else 1.0

    def weight(self, kind: str) -> float:
        return {
            "proximity": self.proximity_weight,
            "conversation": self.conversation_weight,
            "shared_object": self.shared_object_weight,
        }[kind]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> Params:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in json.loads(raw).items() if k in known})

    @classmethod
    def from_scenario(cls, scenario: Scenario | None) -> Params:
        if scenario is None:
            return cls()
        a = scenario.analytics
        base = cls()
        extra = {
            name: getattr(a, name)
            for name in (
                "proximity_weight",
                "conversation_weight",
                "shared_object_weight",
                "shared_object_window_ticks",
                "proximity_crowd_cap",
                "min_tie_strength",
                "louvain_resolution",
                "window_ticks",
            )
            if hasattr(a, name)
        }
        return cls(
            seed=scenario.seed,
            proximity_radius=a.proximity_radius,
            hearing_range=scenario.simulation.hearing_range,
            tie_half_life_ticks=a.tie_half_life_ticks,
            friendship_threshold=a.friendship_threshold,
            metrics_interval_s=a.metrics_interval_s,
            snapshot_every_ticks=a.snapshot_every_ticks,
            snapshots_kept=a.snapshots_kept,
            evidence_per_edge=a.evidence_per_edge,
            **{k: v for k, v in extra.items() if v is not None},
            windows_kept=base.windows_kept,
        )
