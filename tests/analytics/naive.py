"""A brute-force recomputation of the social graph from a committed log.

Deliberately naive and separate from ``analytics.ingest``: every pair of agents
is compared at every tick, every contribution is kept in a list, and weights are
summed at the end as ``sum(w * 0.5 ** ((T - t) / half_life))``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest

from scrai.events import Interact, Speak, TickEvent, WorldStateCommittedEvent
from scrai.scenario.model import Scenario

WEIGHTS = {"proximity": 0.1, "conversation": 1.0, "shared_object": 0.5}
WINDOW = 5


def recompute(scenario: Scenario, log: list[Any]) -> dict[str, Any]:
    a = scenario.analytics
    place = {ag.id: ag.place for ag in scenario.agents}
    names = {ag.id: ag.name for ag in scenario.agents}
    contributions: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    speakers: dict[tuple[str, str], list[str]] = defaultdict(list)
    uses: dict[str, list[tuple[str, int]]] = defaultdict(list)
    nodes = {
        i: {
            "events": 0,
            "messages_sent": 0,
            "messages_received": 0,
            "uses": 0,
            "moves": 0,
            "distance": 0.0,
        }
        for i in place
    }
    last_tick = 0

    def dist(p: str, q: str) -> float:
        return scenario.distance(p, q)

    def pair(x: str, y: str) -> tuple[str, str]:
        return (x, y) if x < y else (y, x)

    for ev in log:
        if isinstance(ev, TickEvent):
            last_tick = ev.tick
            agents = sorted(place)
            for i, x in enumerate(agents):
                for y in agents[i + 1 :]:
                    if dist(place[x], place[y]) <= a.proximity_radius:
                        contributions[(x, y)].append(("proximity", ev.tick))
            continue
        if not isinstance(ev, WorldStateCommittedEvent):
            continue
        actor, t = ev.entity_id, ev.tick
        nodes[actor]["events"] += 1
        new = ev.payload.after[f"agent:{actor}"]["place"]
        if new != place[actor]:
            nodes[actor]["moves"] += 1
            nodes[actor]["distance"] += dist(place[actor], new)
            place[actor] = new
        action = ev.payload.action
        if isinstance(action, Speak):
            nodes[actor]["messages_sent"] += 1
            if action.to is not None:
                listeners = [action.to]
            else:
                listeners = [
                    o
                    for o in place
                    if o != actor
                    and dist(place[o], place[actor]) <= scenario.simulation.hearing_range
                ]
            for o in listeners:
                contributions[pair(actor, o)].append(("conversation", t))
                speakers[pair(actor, o)].append(actor)
                nodes[o]["messages_received"] += 1
        elif isinstance(action, Interact):
            nodes[actor]["uses"] += 1
            history = uses[action.object_id]
            last_use: dict[str, int] = {}
            for user, when in history:
                last_use[user] = when
            for user, when in sorted(last_use.items()):
                if user != actor and t - when <= WINDOW:
                    contributions[pair(actor, user)].append(("shared_object", t))
            history.append((actor, t))

    edges = {}
    for (x, y), items in contributions.items():
        weight = {k: 0.0 for k in WEIGHTS}
        for kind, t in items:
            weight[kind] += WEIGHTS[kind] * math.pow(0.5, (last_tick - t) / a.tie_half_life_ticks)
        said = speakers.get((x, y), [])
        turns = sum(1 for i, s in enumerate(said) if i == 0 or said[i - 1] != s)
        edges[(x, y)] = {
            "weight": sum(weight.values()),
            "kinds": weight,
            "proximity_ticks": sum(1 for k, _ in items if k == "proximity"),
            "messages": len(said),
            "turns": turns,
            "shared": sum(1 for k, _ in items if k == "shared_object"),
        }
    return {
        "tick": last_tick,
        "names": names,
        "nodes": nodes,
        "edges": edges,
        "places": dict(place),
    }


def assert_graph_equals_naive(served: dict, expected: dict) -> None:
    assert served["tick"] == expected["tick"]
    assert [n["id"] for n in served["nodes"]] == sorted(expected["nodes"])
    for node in served["nodes"]:
        want = expected["nodes"][node["id"]]
        assert node["name"] == expected["names"][node["id"]]
        assert node["place"] == expected["places"][node["id"]]
        for name in ("events", "messages_sent", "messages_received", "uses", "moves"):
            assert node[name] == want[name], (node["id"], name)
    links = {(item["source"], item["target"]): item for item in served["links"]}
    assert set(links) == set(expected["edges"])
    for pair, want in expected["edges"].items():
        got = links[pair]
        assert got["weight"] == pytest.approx(want["weight"], rel=1e-9), pair
        for kind, weight in want["kinds"].items():
            assert got["kinds"][kind]["weight"] == pytest.approx(weight, rel=1e-9, abs=1e-12)
        assert got["kinds"]["proximity"]["ticks"] == want["proximity_ticks"]
        assert got["kinds"]["conversation"]["messages"] == want["messages"]
        assert got["kinds"]["conversation"]["turns"] == want["turns"]
        assert got["kinds"]["shared_object"]["uses"] == want["shared"]
