"""The hand-made scenarios of the test suite, in one place.

Each is built with the pydantic model (no loader, no files) through :func:`scenario`;
what differs between them is the map and the cast, which each test relies on:

- :func:`line_town`: five places on a line and an island, a well, a safe and a bench,
  five agents (the world system's rules and clock);
- :func:`social_town`: home, cafe and park with tags, personas and relationships
  (the agents' needs, plans and decisions);
- :func:`village`: bakery and square in earshot, the mill in sight, the park far
  (what the memory consolidator remembers of what was seen and heard);
- :func:`grid_town`: a grid of squares and a numbered cast of any size (analytics);
- :func:`crowd`: a ring of places with any number of agents (load, soak, pressure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scrai.scenario.model import Scenario

Spec = dict[str, Any]


def place(
    pid: str, name: str, x: float, y: float = 0.0, neighbors: Sequence[str] = (), **extra: Any
) -> Spec:
    """A place spec at ``(x, y)`` linked to ``neighbors`` (links are two-way)."""
    return {"id": pid, "name": name, "position": [x, y], "neighbors": list(neighbors), **extra}


def scenario(
    name: str,
    places: list[Spec],
    agents: list[Spec],
    *,
    objects: Sequence[Spec] = (),
    seed: int = 7,
    simulation: Spec | None = None,
    world: Spec | None = None,
    **sections: Any,
) -> Scenario:
    """A validated :class:`Scenario`; ``world`` adds world settings, ``sections`` others."""
    return Scenario.model_validate(
        {
            "name": name,
            "seed": seed,
            "world": {"places": places, "objects": list(objects), **(world or {})},
            "agents": agents,
            "simulation": simulation or {},
            **sections,
        }
    )


def line_town(**simulation: Any) -> Scenario:
    """Home, square (5), cafe (10, capacity 2), far field (100), island (off the map's links)."""
    return scenario(
        "test-town",
        [
            place("home", "Home", 0, neighbors=["square"]),
            place("square", "Square", 5, neighbors=["home", "cafe", "far"]),
            place("cafe", "Cafe", 10, capacity=2),
            place("far", "Far field", 100),
            place("island", "Island", 0, 50),
        ],
        [
            {"id": "alice", "name": "Alice", "place": "home"},
            {"id": "bob", "name": "Bob", "place": "square"},
            {"id": "carol", "name": "Carol", "place": "square"},
            {"id": "dan", "name": "Dan", "place": "cafe"},
            {"id": "eve", "name": "Eve", "place": "far"},
        ],
        objects=[
            {
                "id": "well",
                "kind": "well",
                "place": "square",
                "rules": {
                    "verbs": ["drink", "look"],
                    "capacity": 1,
                    "resource": 2,
                    "cost_per_use": 1,
                    "refill_per_tick": 0.5,
                },
            },
            {"id": "safe", "kind": "safe", "place": "home", "rules": {"allowed": ["alice"]}},
            {
                "id": "bench",
                "kind": "bench",
                "place": "cafe",
                "rules": {"capacity": None, "reach": 5, "verbs": ["sit"]},
            },
        ],
        world={"max_move_distance": 20},
        simulation={
            "tick_interval_s": 0,
            "tick_deadline_s": 2,
            "perception_range": 6,
            "hearing_range": 6,
            **simulation,
        },
    )


def social_town(**agent_overrides: Spec) -> Scenario:
    """Home, cafe and park 10 apart; Ann and Bob friends, Ann and Cyd rivals, Dee alone.

    ``agent_overrides`` maps an agent id to fields that replace that agent's.
    """
    agents = [
        {
            "id": "ann",
            "name": "Ann Lee",
            "place": "home",
            "persona": "Ann loves the garden and the river.",
            "relationships": [
                {"target": "bob", "kind": "friend", "strength": 0.8},
                {"target": "cyd", "kind": "rival", "strength": -0.7},
            ],
        },
        {
            "id": "bob",
            "name": "Bob Ray",
            "place": "cafe",
            "relationships": [{"target": "ann", "kind": "friend", "strength": 0.7}],
        },
        {
            "id": "cyd",
            "name": "Cyd Fox",
            "place": "park",
            "relationships": [{"target": "ann", "kind": "rival", "strength": -0.6}],
        },
        {"id": "dee", "name": "Dee Moss", "place": "park"},
    ]
    for agent in agents:
        agent.update(agent_overrides.get(agent["id"], {}))
    return scenario(
        "Town",
        [
            place("home", "Home", 0, neighbors=["cafe"], tags=["home"]),
            place("cafe", "Cafe", 10, neighbors=["park"], tags=["social"]),
            place("park", "Park", 20, tags=["social", "quiet"]),
        ],
        agents,
        objects=[
            {
                "id": "bench",
                "kind": "bench",
                "place": "park",
                "satisfies": ["rest"],
                "rules": {"verbs": ["sit"], "capacity": 1},
            },
            {
                "id": "piano",
                "kind": "piano",
                "place": "cafe",
                "satisfies": ["curiosity"],
                "rules": {"verbs": ["play"], "allowed": ["bob"]},
            },
        ],
        simulation={"perception_range": 12, "hearing_range": 5, "ticks_per_day": 20},
        memory={"reflection_threshold": 10},
    )


def village(**memory: Any) -> Scenario:
    """Bakery and square 5 apart (earshot), the mill 12 away (seen, not heard), the park far."""
    return scenario(
        "village",
        [
            place("bakery", "the Bakery", 0, neighbors=["square"]),
            place("square", "the Square", 5, neighbors=["mill"]),
            place("mill", "the Mill", 12, neighbors=["park"]),
            place("park", "the Park", 40),
        ],
        [
            {
                "id": "alice",
                "name": "Alice",
                "place": "bakery",
                "relationships": [
                    {"target": "bob", "kind": "friend"},
                    {"target": "carol", "kind": "rival"},
                ],
            },
            {"id": "bob", "name": "Bob", "place": "bakery"},
            {"id": "carol", "name": "Carol", "place": "square"},
            {"id": "eve", "name": "Eve", "place": "mill"},
            {"id": "dave", "name": "Dave", "place": "park"},
        ],
        objects=[{"id": "oven", "kind": "oven", "place": "bakery"}],
        simulation={"perception_range": 15, "hearing_range": 8, "ticks_per_day": 96},
        memory=memory,
    )


def grid_town(
    *,
    agents: int = 12,
    rows: int = 3,
    cols: int = 3,
    seed: int = 7,
    radius: float = 10.5,
    hearing: float = 10.0,
    **analytics: Any,
) -> Scenario:
    """A grid of ``rows x cols`` squares 10 apart, a few objects, a cast with two rivals."""
    places = []
    for r in range(rows):
        for c in range(cols):
            nbrs = [
                f"p{rr}{cc}"
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                if 0 <= rr < rows and 0 <= cc < cols
            ]
            places.append(place(f"p{r}{c}", f"Square {r}{c}", c * 10.0, r * 10.0, nbrs))
    cast = [
        {
            "id": f"a{i:02d}",
            "name": f"Agent {i}",
            "place": places[i % len(places)]["id"],
            "archetype": "villager" if i % 2 else "farmer",
        }
        for i in range(agents)
    ]
    if agents >= 2:
        cast[0]["relationships"] = [{"target": cast[1]["id"], "kind": "rival", "strength": -0.5}]
    return scenario(
        "synth town",
        places,
        cast,
        objects=[
            {"id": "well", "kind": "well", "place": "p00", "rules": {"capacity": 2}},
            {"id": "bench", "kind": "bench", "place": "p11", "rules": {"capacity": 1}},
            {"id": "stove", "kind": "stove", "place": "p22", "rules": {"capacity": None}},
        ],
        seed=seed,
        simulation={"hearing_range": hearing, "perception_range": 15.0},
        analytics={
            "proximity_radius": radius,
            "tie_half_life_ticks": 30.0,
            "friendship_threshold": 3.0,
            "snapshot_every_ticks": 5,
            "evidence_per_edge": 8,
            **analytics,
        },
    )


def crowd(agents: int, *, places: int = 10, **simulation: Any) -> Scenario:
    """A ring of linked places with ``agents`` agents spread over them."""
    return scenario(
        f"crowd-{agents}",
        [
            place(f"p{i}", f"Place {i}", i * 10.0, neighbors=[f"p{(i + 1) % places}"])
            for i in range(places)
        ],
        [
            {"id": f"a{i:04d}", "name": f"Agent {i}", "place": f"p{i % places}"}
            for i in range(agents)
        ],
        objects=[
            {
                "id": f"o{i}",
                "kind": "thing",
                "place": f"p{i}",
                "rules": {"capacity": 3, "resource": 5, "refill_per_tick": 1},
            }
            for i in range(places)
        ],
        seed=1,
        simulation={
            "tick_interval_s": 0,
            "tick_deadline_s": 5,
            "perception_range": 10,
            **simulation,
        },
    )
