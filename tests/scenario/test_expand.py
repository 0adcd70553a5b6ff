"""Grid and template expansion: deterministic from the seed, self-contained, fast."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections import Counter

from scrai.scenario.expand import expand_scenario
from scrai.scenario.loader import parse_scenario
from scrai.scenario.model import Scenario

TOWN = """\
name: Grid town
seed: 42
world:
  grid: {rows: 3, cols: 4, spacing: 5, prefix: c, capacity: 30}
  places:
    - {id: hall, name: Hall, position: [20, 20], capacity: 2, neighbors: [c-2-3]}
templates:
  - archetype: farmer
    count: 50
    names: [Ada, Bram, Cora]
    persona: "{name} farms."
    traits: {energy: [0.6, 0.9], curiosity: 0.25}
    places: [c-0-0, c-0-1, hall]
    friends_per_agent: 3
    rivals_per_agent: 1
    goals: [{description: rest, kind: visit, target: hall}]
  - archetype: smith
    id_prefix: s
    count: 9
    friends_per_agent: 20
"""


def _sha(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()


def test_grid_places_ids_positions_and_links() -> None:
    s = parse_scenario(TOWN)
    assert s.world.grid is None and s.templates == []
    ids = [p.id for p in s.world.places]
    assert ids[0] == "hall" and len(ids) == 1 + 12
    cell = s.place("c-1-2")
    assert cell.position == (10.0, 5.0)  # x = col * spacing, y = row * spacing
    assert sorted(cell.neighbors) == ["c-0-2", "c-1-1", "c-1-3", "c-2-2"]
    assert sorted(s.place("c-0-0").neighbors) == ["c-0-1", "c-1-0"]
    assert s.place("c-0-0").capacity == 30


def test_links_are_made_two_way() -> None:
    s = parse_scenario(TOWN)
    assert "hall" in s.place("c-2-3").neighbors
    for p in s.world.places:
        for n in p.neighbors:
            assert p.id in s.place(n).neighbors, (p.id, n)
        assert len(set(p.neighbors)) == len(p.neighbors)


def test_template_agents() -> None:
    s = parse_scenario(TOWN)
    farmers = [a for a in s.agents if a.archetype == "farmer"]
    smiths = [a for a in s.agents if a.archetype == "smith"]
    assert len(farmers) == 50 and len(smiths) == 9
    assert [a.id for a in farmers[:2]] == ["farmer-01", "farmer-02"]
    assert farmers[-1].id == "farmer-50"
    assert [a.id for a in smiths][:2] == ["s-1", "s-2"]
    assert [a.name for a in farmers[:5]] == ["Ada", "Bram", "Cora", "Ada 2", "Bram 2"]
    assert smiths[0].name == "Smith 1"
    assert farmers[1].persona == "Bram farms."
    assert all(0.6 <= a.traits.energy <= 0.9 and a.traits.curiosity == 0.25 for a in farmers)
    assert len({a.traits.energy for a in farmers}) > 25  # actually drawn, not constant
    assert {a.place for a in farmers} <= {"c-0-0", "c-0-1", "hall"}
    assert all(a.goals[0].target == "hall" for a in farmers)


def test_relationships_stay_inside_the_expansion() -> None:
    s = parse_scenario(TOWN)
    by_id = {a.id: a for a in s.agents}
    for a in s.agents:
        targets = [r.target for r in a.relationships]
        assert a.id not in targets and len(set(targets)) == len(targets)
        assert all(by_id[t].archetype == a.archetype for t in targets)
    farmer = by_id["farmer-07"]
    assert Counter(r.kind for r in farmer.relationships) == {"friend": 3, "rival": 1}
    # Nine smiths can have at most eight friends each.
    assert all(len(a.relationships) == 8 for a in s.agents if a.archetype == "smith")


def test_friends_cluster_by_starting_place() -> None:
    s = parse_scenario(TOWN)
    by_id = {a.id: a for a in s.agents}
    pairs = [
        (a.place, by_id[r.target].place)
        for a in s.agents
        if a.archetype == "farmer"
        for r in a.relationships
        if r.kind == "friend"
    ]
    assert sum(x == y for x, y in pairs) / len(pairs) > 0.9


def test_capacity_is_respected_when_drawing_places() -> None:
    s = parse_scenario(TOWN)
    count = Counter(a.place for a in s.agents)
    assert count["hall"] == 2  # capacity 2: the draw moved the rest elsewhere
    assert all(count[p.id] <= (p.capacity or 10**9) for p in s.world.places)


def test_expansion_is_deterministic_and_idempotent() -> None:
    first, second = parse_scenario(TOWN), parse_scenario(TOWN)
    assert first.model_dump_json() == second.model_dump_json()
    assert expand_scenario(first).model_dump_json() == first.model_dump_json()


def test_the_seed_changes_the_cast() -> None:
    other = parse_scenario(TOWN.replace("seed: 42", "seed: 43"))
    assert _sha(other) != _sha(parse_scenario(TOWN))


def test_seed_override_is_applied_before_expansion() -> None:
    overridden = parse_scenario(TOWN, seed=43)
    assert overridden.seed == 43
    assert _sha(overridden) == _sha(parse_scenario(TOWN.replace("seed: 42", "seed: 43")))


def test_same_cast_in_another_process_with_another_hash_seed() -> None:
    code = (
        "import hashlib,sys; from scrai.scenario.loader import parse_scenario; "
        "s = parse_scenario(sys.stdin.read()); "
        "print(hashlib.sha256(s.model_dump_json().encode()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=TOWN,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        timeout=60,
    )
    assert out.stdout.strip() == _sha(parse_scenario(TOWN))


def test_expanded_scenario_round_trips_through_json() -> None:
    s = parse_scenario(TOWN)
    again = Scenario.model_validate_json(s.model_dump_json())
    assert again.model_dump_json() == s.model_dump_json()
    assert again.distance("c-0-0", "c-0-1") == 5.0


def test_ten_thousand_agents_expand_quickly() -> None:
    text = """\
name: Big
seed: 9
world: {grid: {rows: 50, cols: 50}}
templates:
  - {archetype: a, count: 6000, friends_per_agent: 4, rivals_per_agent: 1, traits: {energy: [0, 1]}}
  - {archetype: b, count: 4000, friends_per_agent: 2, traits: {boldness: [0.2, 0.4]}}
"""
    scenario = Scenario.model_validate(__import__("yaml").safe_load(text))
    started = time.process_time()
    expanded = expand_scenario(scenario)
    expand_s = time.process_time() - started
    started = time.process_time()
    parsed = parse_scenario(text)
    parse_s = time.process_time() - started
    print(f"\nexpand 10,000 agents: {expand_s:.3f} s CPU; parse+check+expand: {parse_s:.3f} s CPU")
    assert len(expanded.agents) == 10_000 and len(expanded.world.places) == 2_500
    assert expanded.model_dump_json() == parsed.model_dump_json()
    assert expand_s < 2.0
    assert parse_s < 3.0
