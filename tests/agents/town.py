"""A tiny scenario for the agents' unit tests: three places in a row, a few people."""

from __future__ import annotations

from typing import Any

from scrai.scenario.model import Scenario


def town(**agent_overrides: Any) -> Scenario:
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
    return Scenario.model_validate(
        {
            "name": "Town",
            "seed": 7,
            "world": {
                "places": [
                    {
                        "id": "home",
                        "name": "Home",
                        "position": [0, 0],
                        "neighbors": ["cafe"],
                        "tags": ["home"],
                    },
                    {
                        "id": "cafe",
                        "name": "Cafe",
                        "position": [10, 0],
                        "neighbors": ["park"],
                        "tags": ["social"],
                    },
                    {
                        "id": "park",
                        "name": "Park",
                        "position": [20, 0],
                        "tags": ["social", "quiet"],
                    },
                ],
                "objects": [
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
            },
            "agents": agents,
            "simulation": {"perception_range": 12, "hearing_range": 5, "ticks_per_day": 20},
            "memory": {"reflection_threshold": 10},
        }
    )
