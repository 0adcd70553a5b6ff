"""A table of broken scenario files and the exact message each must produce.

Each case edits a small valid scenario (BASE, whose line numbers the expected
messages rely on) and names the line ``file:line: field.path: reason`` that a
director must see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scrai.scenario.errors import MAX_PROBLEMS, Problem, ScenarioError
from scrai.scenario.loader import load_scenario_file, parse_scenario
from scrai.scenario.yamlsafe import MAX_BYTES

BASE = """\
name: Tiny
seed: 7
world:
  places:
    - id: home
      name: Home
      position: [0, 0]
      capacity: 2
      neighbors: [park]
    - id: park
      name: Park
      position: [10, 0]
  objects:
    - id: bench
      kind: bench
      place: park
agents:
  - id: ann
    name: Ann
    place: home
    relationships:
      - {target: bob, kind: friend}
  - id: bob
    name: Bob
    place: park
    goals:
      - {description: sit, kind: use, target: bench}
"""

BOMB = """\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

MERGE_BOMB = "a0: &a0 {k: 1}\n" + "".join(
    f"a{n}: &a{n} {{<<: [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]}}\n" for n in range(1, 12)
)


def edit(old: str, new: str, count: int = 1) -> Callable[[], str]:
    def make() -> str:
        assert old in BASE, old
        return BASE.replace(old, new, count)

    return make


def text(value: str) -> Callable[[], str]:
    return lambda: value


CASES: list[tuple[str, Callable[[], str], str]] = [
    (
        "bad type",
        edit("capacity: 2", "capacity: lots"),
        "t.yml:8: world.places[0].capacity: Input should be a valid integer",
    ),
    (
        "missing field",
        edit("      name: Park\n", ""),
        "t.yml:10: world.places[1].name: Field required",
    ),
    (
        "missing world",
        edit("world:", "wrld:"),
        "t.yml:1: world: Field required",
    ),
    (
        "unknown key",
        edit("      name: Home\n", "      name: Home\n      colour: red\n"),
        "t.yml:7: world.places[0].colour: unknown field",
    ),
    (
        "unknown top-level key",
        edit("seed: 7\n", "seed: 7\nsed: 8\n"),
        "t.yml:3: sed: unknown field",
    ),
    (
        "dangling agent place",
        edit("place: home", "place: attic"),
        "t.yml:20: agents[0].place: no place with id 'attic'",
    ),
    (
        "dangling relationship target",
        edit("{target: bob, kind: friend}", "{target: bo, kind: friend}"),
        "t.yml:22: agents[0].relationships[0].target: no agent with id 'bo'",
    ),
    (
        "dangling object place",
        edit("      place: park\n", "      place: lawn\n"),
        "t.yml:16: world.objects[0].place: no place with id 'lawn'",
    ),
    (
        "dangling neighbour",
        edit("neighbors: [park]", "neighbors: [parc]"),
        "t.yml:9: world.places[0].neighbors[0]: no place with id 'parc'",
    ),
    (
        "dangling goal target",
        edit("target: bench}", "target: chair}"),
        "t.yml:27: agents[1].goals[0].target: no object with id 'chair'",
    ),
    (
        "goal target of the wrong kind",
        edit("target: bench}", "target: park}"),
        "t.yml:27: agents[1].goals[0].target: 'park' is a place, not an object",
    ),
    (
        "duplicate agent id",
        edit("  - id: bob\n", "  - id: ann\n"),
        "t.yml:23: agents[1].id: duplicate id 'ann' (already used by agents[0].id)",
    ),
    (
        "id shared by a place and an object",
        edit("    - id: bench\n", "    - id: park\n"),
        "t.yml:14: world.objects[0].id: duplicate id 'park' (already used by world.places[1].id)",
    ),
    (
        "duplicate key",
        edit("seed: 7\n", "seed: 7\nname: Other\n"),
        "t.yml:3: duplicate key 'name' (first at line 1)",
    ),
    (
        "bad yaml syntax",
        edit("kind: bench", "kind: [bench"),
        "t.yml:16: invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence)",
    ),
    (
        "tab indentation",
        edit("  - id: bob\n", "\t- id: bob\n"),
        "t.yml:23: invalid YAML: found character '\\t' that cannot start any token",
    ),
    (
        "control character",
        edit("name: Ann", "name: A\x1fnn"),
        "t.yml:19: invalid YAML: unacceptable character #x001f: special characters are not allowed",
    ),
    (
        "python object tag",
        edit("name: Tiny", "name: !!python/object/apply:os.system ['true']"),
        "t.yml:1: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    (
        "alias bomb",
        text(BOMB),
        "t.yml:6: document expands to more than 1,000,000 nodes through aliases (alias bomb?)",
    ),
    (
        "merge-key bomb",
        text(MERGE_BOMB),
        "t.yml:10: document expands to more than 1,000,000 nodes through aliases (alias bomb?)",
    ),
    (
        "recursive alias",
        text("name: &n [1, *n]\n"),
        "t.yml:1: recursive alias: a node contains itself",
    ),
    (
        "too deep",
        text("name: " + "[" * 80 + "]" * 80 + "\n"),
        "t.yml:1: nested more than 64 levels deep",
    ),
    (
        "oversized",
        text(BASE + "# " + "x" * MAX_BYTES + "\n"),
        f"t.yml: file too large: {len(BASE) + MAX_BYTES + 3:,} bytes, "
        "the limit is 2,097,152 (2 MiB)",
    ),
    (
        "no places",
        text("name: n\nworld: {}\n"),
        "t.yml:2: world.places: a world needs at least one place (or a grid)",
    ),
    (
        "top level is a list",
        text("- a\n- b\n"),
        "t.yml:1: the top level must be a mapping, not a list",
    ),
    (
        "top level is a string",
        text("hello\n"),
        "t.yml:1: the top level must be a mapping, not a str",
    ),
    ("empty file", text(""), "t.yml: the top level must be a mapping, not an empty document"),
    ("two documents", text("name: a\n---\nname: b\n"), "expected a single document in the stream"),
    (
        "negative capacity",
        edit("capacity: 2", "capacity: -1"),
        "t.yml:8: world.places[0].capacity: Input should be greater than or equal to 1",
    ),
    (
        "relationship to oneself",
        edit("{target: bob, kind: friend}", "{target: ann, kind: friend}"),
        "t.yml:22: agents[0].relationships[0].target: a relationship to oneself",
    ),
    (
        "unknown relationship kind",
        edit("kind: friend}", "kind: lover}"),
        "t.yml:22: agents[0].relationships[0].kind: Input should be 'friend', 'family'",
    ),
    (
        "trait out of range",
        edit("    name: Ann\n", "    name: Ann\n    traits: {energy: 1.5}\n"),
        "t.yml:20: agents[0].traits.energy: Input should be less than or equal to 1",
    ),
    (
        "NaN position",
        edit("position: [0, 0]", "position: [.nan, 0]"),
        "t.yml:7: world.places[0].position[0]: Input should be a finite number",
    ),
    (
        "template with no count",
        lambda: BASE + "templates:\n  - {archetype: villager, count: 0}\n",
        "t.yml:29: templates[0].count: Input should be greater than or equal to 1",
    ),
    (
        "template trait range upside down",
        lambda: BASE + "templates:\n  - {archetype: v, count: 3, traits: {energy: [0.9, 0.2]}}\n",
        "t.yml:29: templates[0].traits: trait 'energy': (0.9, 0.2) is not a value or a "
        "[low, high] range in 0..1",
    ),
    (
        "template unknown trait",
        lambda: BASE + "templates:\n  - {archetype: v, count: 3, traits: {luck: 0.5}}\n",
        "t.yml:29: templates[0].traits: unknown trait 'luck'",
    ),
    (
        "template unknown place",
        lambda: BASE + "templates:\n  - {archetype: v, count: 3, places: [moon]}\n",
        "t.yml:29: templates[0].places[0]: no place with id 'moon'",
    ),
    (
        "template archetype not usable as an id",
        lambda: BASE + "templates:\n  - {archetype: old farmer, count: 3}\n",
        "t.yml:29: templates[0].archetype: 'old farmer-1' is not a valid agent id",
    ),
    (
        "template ids collide with an agent",
        lambda: (
            BASE.replace("  - id: bob\n", "  - id: v-1\n").replace("target: bob", "target: v-1")
            + "templates:\n  - {archetype: v, count: 1, places: [park]}\n"
        ),
        "t.yml:29: templates[0].archetype: duplicate id 'v-1' (already used by agents[1].id)",
    ),
    (
        "cast too big to expand",
        lambda: (
            BASE
            + "templates:\n  - {archetype: a, count: 60000}\n  - {archetype: b, count: 60000}\n"
        ),
        "t.yml:28: templates: 120,002 agents in all; the limit is 100,000",
    ),
    (
        "start over capacity",
        lambda: BASE + "templates:\n  - {archetype: v, count: 3, places: [home]}\n",
        "t.yml:8: world.places[0].capacity: 4 agents start in 'home' but its capacity is 2",
    ),
    (
        "routine past the end of the day",
        edit("    goals:\n", "    routine: [{start: 96, place: home}]\n    goals:\n"),
        "t.yml:26: agents[1].routine[0].start: 96 is past the end of the day (ticks_per_day 96)",
    ),
    (
        "link longer than the longest move",
        edit("world:\n", "world:\n  max_move_distance: 5\n"),
        "t.yml:10: world.places[0].neighbors[0]: 'park' is 10.0 away, beyond max_move_distance 5",
    ),
    (
        "object allowed for someone unknown",
        edit("      place: park\n", "      place: park\n      rules: {allowed: [zed]}\n"),
        "t.yml:17: world.objects[0].rules.allowed[0]: no agent with id 'zed'",
    ),
    (
        "stock above its maximum",
        edit(
            "      place: park\n",
            "      place: park\n      rules: {resource: 5, max_resource: 2}\n",
        ),
        "t.yml:17: world.objects[0].rules: resource exceeds max_resource",
    ),
]


def test_base_is_valid() -> None:
    scenario = parse_scenario(BASE, "t.yml")
    assert [a.id for a in scenario.agents] == ["ann", "bob"]


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_scenario_message(make: Callable[[], str], expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(make(), "t.yml")
    lines = str(caught.value).splitlines()
    assert any(expected in line for line in lines), "\n".join(lines)
    assert all(isinstance(p, Problem) for p in caught.value.problems)
    assert [str(p) for p in caught.value.problems] == lines


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 15


def test_every_problem_is_reported_not_only_the_first() -> None:
    broken = BASE.replace("place: home", "place: attic").replace("target: bench}", "target: x}")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(broken, "t.yml")
    assert [(p.path, p.line) for p in caught.value.problems] == [
        ("agents[0].place", 20),
        ("agents[1].goals[0].target", 27),
    ]


def test_a_flood_of_errors_is_capped() -> None:
    places = "".join(f"    - {{id: p{i}, name: P, position: [0, x]}}\n" for i in range(500))
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(f"name: n\nworld:\n  places:\n{places}", "t.yml")
    assert len(caught.value.problems) == MAX_PROBLEMS + 1
    assert str(caught.value.problems[-1]) == "t.yml: ... and 450 more problems"


def test_scenario_error_is_a_value_error() -> None:
    assert issubclass(ScenarioError, ValueError)
    problem = Problem("f.yml", "agents[0].place", 3, "no place with id 'x'")
    assert str(problem) == "f.yml:3: agents[0].place: no place with id 'x'"
    assert str(Problem("f.yml", "", None, "no such file")) == "f.yml: no such file"


# -- files on disk ------------------------------------------------------------------


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"name: x\n" + b"#" * (MAX_BYTES + 10))
    with pytest.raises(ScenarioError, match=r"big\.yml: file too large: more than 2,097,152 bytes"):
        load_scenario_file(big)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yml: no such file"):
        load_scenario_file(tmp_path / "nope.yml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario_file(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "latin.yml"
    bad.write_bytes(b"name: ok\ndescription: caf\xe9\n")
    with pytest.raises(ScenarioError, match=r"latin\.yml:2: not UTF-8 text"):
        load_scenario_file(bad)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "town.yml"
    path.write_text(BASE.replace("capacity: 2", "capacity: -1"), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:8: world.places[0].capacity: ")


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    # 2**60 nodes once expanded; measured per distinct node, it costs nothing.
    levels = "".join(f"l{n}: &l{n} [*l{n - 1}, *l{n - 1}]\n" for n in range(1, 60))
    started = time.process_time()
    with pytest.raises(ScenarioError, match=r"through aliases \(alias bomb\?\)"):
        parse_scenario("l0: &l0 [x]\n" + levels, "t.yml")
    assert time.process_time() - started < 0.5
