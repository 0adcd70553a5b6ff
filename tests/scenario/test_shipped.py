"""The shipped scenarios validate, tell stories, and the CLI says so."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
from networkx.algorithms.community import greedy_modularity_communities, modularity

from scrai.scenario.loader import load_scenario_file
from scrai.scenario.model import Scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SHIPPED = ["default.yml", "smallville.yml", "crowd.yml"]


def scrai(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrai", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def shipped() -> dict[str, Scenario]:
    return {name: load_scenario_file(SCENARIOS / name) for name in SHIPPED}


def social_graph(s: Scenario) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(a.id for a in s.agents)
    g.add_edges_from((a.id, r.target) for a in s.agents for r in a.relationships if r.strength > 0)
    return g


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_is_valid_and_clustered(shipped: dict[str, Scenario], name: str) -> None:
    s = shipped[name]
    assert s.templates == [] and s.world.grid is None
    assert s.simulation.tick_interval_s == 1.0
    g = social_graph(s)
    communities = greedy_modularity_communities(g)
    assert len(communities) >= 3
    assert modularity(g, communities) >= 0.2
    # Every link can be walked in one move.
    limit = s.world.max_move_distance or float("inf")
    assert all(s.distance(p.id, n) <= limit for p in s.world.places for n in p.neighbors)


def test_default_is_a_small_town_with_stories(shipped: dict[str, Scenario]) -> None:
    s = shipped["default.yml"]
    assert len(s.agents) >= 8 and len(s.world.places) >= 6
    assert all(p.capacity and p.neighbors for p in s.world.places)
    objects = {o.id: o for o in s.world.objects}
    contested = [
        o
        for o in objects.values()
        if o.rules.capacity == 1 and o.rules.resource and o.rules.refill_per_tick > 0
    ]
    assert contested, "a single-seat object with a stock that refills"
    assert any(o.rules.allowed for o in objects.values())
    assert "notice_board" in {o.kind for o in objects.values()}
    kinds = Counter(r.kind for a in s.agents for r in a.relationships)
    assert {"friend", "rival", "family", "secret"} <= set(kinds)
    assert {"visit", "meet", "use"} <= {g.kind for a in s.agents for g in a.goals}
    assert all(a.routine and len(a.persona) > 200 for a in s.agents)
    # A shared goal: two people each set out to meet the other.
    meets = {(a.id, g.target) for a in s.agents for g in a.goals if g.kind == "meet"}
    assert any((b, a) in meets for a, b in meets)
    # Ranges fit the map: speech stays within a place, sight reaches the next one.
    links = [s.distance(p.id, n) for p in s.world.places for n in p.neighbors]
    assert s.simulation.hearing_range < min(links) <= s.simulation.perception_range
    assert s.simulation.tick_deadline_s == 2.0


def test_smallville_and_crowd_sizes(shipped: dict[str, Scenario]) -> None:
    small = shipped["smallville.yml"]
    assert len(small.agents) == 25 and len(small.world.places) >= 12
    crowd = shipped["crowd.yml"]
    assert len(crowd.agents) >= 1_000
    assert len({a.archetype for a in crowd.agents if a.archetype}) >= 3


def test_cli_validates_every_shipped_scenario() -> None:
    result = scrai("validate", *(f"scenarios/{n}" for n in SHIPPED))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "scenarios/default.yml: ok: 'Millbrook': 10 places, 8 objects, 10 agents",
        "scenarios/smallville.yml: ok: 'Smallville': 14 places, 12 objects, 25 agents",
        "scenarios/crowd.yml: ok: 'Crowd': 102 places, 8 objects, 1052 agents",
    ]


def test_cli_reports_each_problem_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    text = (SCENARIOS / "default.yml").read_text(encoding="utf-8")
    bad.write_text(
        text.replace("\n    place: bakery\n", "\n    place: bakehouse\n", 1), encoding="utf-8"
    )
    line = text[: text.index("\n    place: bakery\n")].count("\n") + 2
    result = scrai("validate", str(bad), "scenarios/default.yml", str(tmp_path / "missing.yml"))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}:{line}: agents[0].place: no place with id 'bakehouse'",
        "scenarios/default.yml: ok: 'Millbrook': 10 places, 8 objects, 10 agents",
        f"{tmp_path / 'missing.yml'}: no such file",
    ]


def test_cli_needs_a_file() -> None:
    assert scrai("validate").returncode == 2


def test_schema_is_json_schema_of_the_format() -> None:
    result = scrai("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"name", "world", "agents", "templates", "simulation"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert {"Agent", "Place", "WorldObject", "Archetype"} <= set(schema["$defs"])
