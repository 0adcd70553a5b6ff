"""A small hand-made world for the world tests (built with the pydantic model, no loader)."""

from __future__ import annotations

import copy
from typing import Any

from scrai.scenario.model import Scenario

TOWN: dict[str, Any] = {
    "name": "test-town",
    "seed": 7,
    "world": {
        "max_move_distance": 20,
        "places": [
            {"id": "home", "name": "Home", "position": [0, 0], "neighbors": ["square"]},
            {
                "id": "square",
                "name": "Square",
                "position": [5, 0],
                "neighbors": ["home", "cafe", "far"],
            },
            {"id": "cafe", "name": "Cafe", "position": [10, 0], "capacity": 2},
            {"id": "far", "name": "Far field", "position": [100, 0]},
            {"id": "island", "name": "Island", "position": [0, 50]},
        ],
        "objects": [
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
    },
    "agents": [
        {"id": "alice", "name": "Alice", "place": "home"},
        {"id": "bob", "name": "Bob", "place": "square"},
        {"id": "carol", "name": "Carol", "place": "square"},
        {"id": "dan", "name": "Dan", "place": "cafe"},
        {"id": "eve", "name": "Eve", "place": "far"},
    ],
    "simulation": {
        "tick_interval_s": 0,
        "tick_deadline_s": 2,
        "perception_range": 6,
        "hearing_range": 6,
    },
}


def town(**simulation: Any) -> Scenario:
    data = copy.deepcopy(TOWN)
    data["simulation"].update(simulation)
    return Scenario.model_validate(data)


def crowd(agents: int, *, places: int = 10, **simulation: Any) -> Scenario:
    """A ring of linked places with ``agents`` agents spread over them."""
    ring = [
        {
            "id": f"p{i}",
            "name": f"Place {i}",
            "position": [i * 10.0, 0.0],
            "neighbors": [f"p{(i + 1) % places}"],
        }
        for i in range(places)
    ]
    data: dict[str, Any] = {
        "name": f"crowd-{agents}",
        "seed": 1,
        "world": {
            "places": ring,
            "objects": [
                {
                    "id": f"o{i}",
                    "kind": "thing",
                    "place": f"p{i}",
                    "rules": {"capacity": 3, "resource": 5, "refill_per_tick": 1},
                }
                for i in range(places)
            ],
        },
        "agents": [
            {"id": f"a{i:04d}", "name": f"Agent {i}", "place": f"p{i % places}"}
            for i in range(agents)
        ],
        "simulation": {"tick_interval_s": 0, "tick_deadline_s": 5, "perception_range": 10},
    }
    data["simulation"].update(simulation)
    return Scenario.model_validate(data)
