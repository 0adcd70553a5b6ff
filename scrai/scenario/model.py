"""The scenario format, as pydantic models (pure: no I/O).

A scenario is a world (places, how they connect, objects and their rules), a
cast (explicit agents and templates that expand into many), and the settings of
the simulation, memory and analytics. Unknown keys are errors everywhere.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    # NaN/inf positions or ranges would poison every distance the world computes.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- world -------------------------------------------------------------------------


class Place(_Model):
    id: Id
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    position: tuple[float, float] = Field(description="x, y in world units")
    capacity: int | None = Field(
        default=None, ge=1, description="most agents at once; None: no limit"
    )
    neighbors: list[Id] = Field(
        default_factory=list, description="places reachable in one move (links are two-way)"
    )
    tags: list[str] = Field(default_factory=list, description="e.g. home, work, social, quiet")


MAX_GRID_CELLS = 100_000


class Grid(_Model):
    """A rectangular grid of places ``<prefix>-<row>-<col>``, each linked to its 4 neighbours."""

    rows: int = Field(ge=1, le=1_000)
    cols: int = Field(ge=1, le=1_000)
    spacing: float = Field(default=10.0, gt=0)
    prefix: Id = "cell"
    capacity: int | None = Field(default=None, ge=1)
    tags: list[str] = Field(default_factory=lambda: ["social"])

    @model_validator(mode="after")
    def _size(self) -> Grid:
        if self.rows * self.cols > MAX_GRID_CELLS:
            raise ValueError(
                f"grid of {self.rows * self.cols:,} cells; the limit is {MAX_GRID_CELLS:,}"
            )
        return self


class ObjectRules(_Model):
    """How an object may be used."""

    verbs: list[str] = Field(default_factory=lambda: ["use"], min_length=1)
    capacity: int | None = Field(default=1, ge=1, description="users per tick; None: no limit")
    resource: float | None = Field(default=None, ge=0, description="starting stock; None: endless")
    max_resource: float | None = Field(default=None, gt=0)
    cost_per_use: float = Field(default=1.0, ge=0)
    refill_per_tick: float = Field(default=0.0, ge=0)
    allowed: list[Id] = Field(default_factory=list, description="who may use it; empty: anyone")
    reach: float = Field(
        default=0.0, ge=0, description="distance from the object's place it can be used"
    )

    @model_validator(mode="after")
    def _stock_bounds(self) -> ObjectRules:
        if self.resource is not None and self.max_resource is None:
            self.max_resource = self.resource
        if (
            self.resource is not None
            and self.max_resource is not None
            and self.resource > self.max_resource
        ):
            raise ValueError("resource exceeds max_resource")
        return self


class WorldObject(_Model):
    id: Id
    kind: str = Field(min_length=1, max_length=64)
    name: str | None = None
    place: Id
    properties: dict[str, Any] = Field(default_factory=dict)
    rules: ObjectRules = Field(default_factory=ObjectRules)
    satisfies: list[Literal["rest", "social", "curiosity", "hunger"]] = Field(
        default_factory=list, description="needs that using it meets"
    )


class World(_Model):
    places: list[Place] = Field(default_factory=list)
    grid: Grid | None = None
    objects: list[WorldObject] = Field(default_factory=list)
    max_move_distance: float | None = Field(
        default=None, gt=0, description="longest single move; None: any linked place"
    )


# -- agents ------------------------------------------------------------------------

RelationshipKind = Literal[
    "friend", "family", "partner", "rival", "enemy", "colleague", "acquaintance", "secret"
]


class Relationship(_Model):
    target: Id
    kind: RelationshipKind
    strength: Annotated[float, Field(ge=-1.0, le=1.0)] = Field(
        default=0.5, description="-1 hostile .. 1 devoted"
    )
    note: str = ""


class Goal(_Model):
    """What an agent wants. ``kind`` tells the rule brain how to pursue it."""

    description: str = Field(min_length=1, max_length=300)
    kind: Literal["visit", "meet", "use", "talk_about", "avoid"] = "visit"
    target: str | None = Field(default=None, description="place, agent, object or topic id")
    priority: Unit = 0.5


class RoutineStep(_Model):
    """From ``start`` (tick of the day) the agent prefers ``place`` for ``activity``."""

    start: int = Field(ge=0)
    place: Id
    activity: str = "be there"


class Traits(_Model):
    sociability: Unit = 0.5
    curiosity: Unit = 0.5
    energy: Unit = 0.5
    agreeableness: Unit = 0.5
    boldness: Unit = 0.5


class Brain(_Model):
    type: Literal["rule", "llm"] = "rule"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(default=0.7, ge=0, le=2)
    timeout_s: float | None = Field(default=None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)


class Agent(_Model):
    id: Id
    name: str = Field(min_length=1, max_length=120)
    persona: str = Field(default="", max_length=4_000)
    traits: Traits = Field(default_factory=Traits)
    goals: list[Goal] = Field(default_factory=list)
    place: Id = Field(description="starting place")
    relationships: list[Relationship] = Field(default_factory=list)
    brain: Brain = Field(default_factory=Brain)
    routine: list[RoutineStep] = Field(default_factory=list)
    archetype: str | None = None
    secret: str | None = Field(default=None, max_length=500)


Range = tuple[float, float]


class Archetype(_Model):
    """A template for many agents; ranges are drawn from the scenario's seed."""

    archetype: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=100_000)
    id_prefix: Id | None = None
    names: list[str] = Field(default_factory=list, description="name pool; numbered when exhausted")
    persona: str = ""
    traits: dict[str, float | Range] = Field(default_factory=dict)
    places: list[Id] = Field(
        default_factory=list, description="starting places to draw from; empty: any"
    )
    goals: list[Goal] = Field(default_factory=list)
    friends_per_agent: int = Field(default=0, ge=0, le=50)
    rivals_per_agent: int = Field(default=0, ge=0, le=50)
    brain: Brain = Field(default_factory=Brain)

    @field_validator("traits")
    @classmethod
    def _trait_specs(cls, traits: dict[str, float | Range]) -> dict[str, float | Range]:
        for name, spec in traits.items():
            if name not in Traits.model_fields:
                raise ValueError(f"unknown trait {name!r}; known: {', '.join(Traits.model_fields)}")
            lo, hi = spec if isinstance(spec, tuple) else (spec, spec)
            if not (0.0 <= lo <= hi <= 1.0):
                raise ValueError(
                    f"trait {name!r}: {spec} is not a value or a [low, high] range in 0..1"
                )
        return traits


# -- run settings ------------------------------------------------------------------


class Simulation(_Model):
    tick_interval_s: float = Field(default=1.0, ge=0.0, le=3_600)
    max_ticks: int | None = Field(default=None, ge=1)
    tick_deadline_s: float = Field(default=2.0, gt=0, le=3_600)
    ticks_per_day: int = Field(default=96, ge=1)
    perception_range: float = Field(default=15.0, ge=0)
    hearing_range: float = Field(default=8.0, ge=0)


class MemorySettings(_Model):
    recency_weight: float = Field(default=1.0, ge=0)
    importance_weight: float = Field(default=1.0, ge=0)
    relevance_weight: float = Field(default=1.0, ge=0)
    recency_decay: float = Field(default=0.99, gt=0, le=1, description="per tick")
    reflection_threshold: float = Field(default=40.0, gt=0)
    consolidate_every_events: int = Field(default=50, ge=1)
    consolidate_every_ticks: int = Field(default=24, ge=1)
    max_memories: int = Field(default=200, ge=10)
    audience_cap: int = Field(
        default=12, ge=1, description="most observers of one event that get a memory of it"
    )


class AnalyticsSettings(_Model):
    proximity_radius: float = Field(default=5.0, ge=0)
    tie_half_life_ticks: float = Field(default=200.0, gt=0)
    friendship_threshold: float = Field(default=5.0, gt=0)
    metrics_interval_s: float = Field(default=2.0, gt=0)
    snapshot_every_ticks: int = Field(default=10, ge=1)
    snapshots_kept: int = Field(
        default=100,
        ge=1,
        description="newest snapshots kept; an older tick replays from the run's start instead",
    )
    evidence_per_edge: int = Field(default=20, ge=1, le=1_000)


class Scenario(_Model):
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    seed: int = 0
    world: World
    agents: list[Agent] = Field(default_factory=list)
    templates: list[Archetype] = Field(default_factory=list)
    simulation: Simulation = Field(default_factory=Simulation)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)

    # -- lookups (valid after expansion) ------------------------------------------------

    def place(self, place_id: str) -> Place:
        return self._places()[place_id]

    def _places(self) -> dict[str, Place]:
        cache = self.__dict__.get("_place_index")
        if cache is None:
            cache = {p.id: p for p in self.world.places}
            self.__dict__["_place_index"] = cache
        return cache

    def distance(self, a: str, b: str) -> float:
        pa, pb = self.place(a).position, self.place(b).position
        return math.hypot(pa[0] - pb[0], pa[1] - pb[1])
