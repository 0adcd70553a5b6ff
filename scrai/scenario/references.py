"""Cross-reference checks: every id a scenario mentions must exist, once.

Checks run on the scenario as written (so each problem points at a field of the
file) against the ids of its expansion (grid cells and template agents count).
"""

from __future__ import annotations

import re
from collections import Counter

from scrai.scenario.errors import Loc, format_loc
from scrai.scenario.expand import grid_place_id, template_ids
from scrai.scenario.model import Goal, Scenario

Finding = tuple[Loc, str]

MAX_AGENTS = 100_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Which kind of thing a goal's target must be; talk_about takes any topic.
_GOAL_TARGETS = {
    "visit": ("place",),
    "meet": ("agent",),
    "use": ("object",),
    "avoid": ("place", "agent"),
}


def check_size(scenario: Scenario) -> list[Finding]:
    """Refuse casts too big to expand quickly, before expanding them."""
    total = len(scenario.agents) + sum(t.count for t in scenario.templates)
    if total > MAX_AGENTS:
        return [(("templates",), f"{total:,} agents in all; the limit is {MAX_AGENTS:,}")]
    findings: list[Finding] = []
    for i, t in enumerate(scenario.templates):
        ids = template_ids(t)
        if not all(_ID.match(x) and len(x) <= 64 for x in (ids[0], ids[-1])):
            field = "id_prefix" if t.id_prefix else "archetype"
            findings.append(
                (
                    ("templates", i, field),
                    f"{ids[0]!r} is not a valid agent id; set id_prefix to letters, digits, _ . -",
                )
            )
    return findings


class _Ids:
    """Who owns each id, by kind, and where it was first declared."""

    def __init__(self) -> None:
        self.kind: dict[str, str] = {}
        self.where: dict[str, Loc] = {}
        self.findings: list[Finding] = []
        self._reported: set[Loc] = set()

    def add(self, ident: str, kind: str, loc: Loc) -> None:
        if ident in self.kind:
            if loc not in self._reported:
                self._reported.add(loc)
                first = format_loc(self.where[ident])
                self.findings.append((loc, f"duplicate id {ident!r} (already used by {first})"))
            return
        self.kind[ident] = kind
        self.where[ident] = loc


def _collect(scenario: Scenario) -> _Ids:
    ids = _Ids()
    world = scenario.world
    for i, p in enumerate(world.places):
        ids.add(p.id, "place", ("world", "places", i, "id"))
    if world.grid:
        g = world.grid
        for r in range(g.rows):
            for c in range(g.cols):
                ids.add(grid_place_id(g, r, c), "place", ("world", "grid", "prefix"))
    for i, o in enumerate(world.objects):
        ids.add(o.id, "object", ("world", "objects", i, "id"))
    for i, a in enumerate(scenario.agents):
        ids.add(a.id, "agent", ("agents", i, "id"))
    for i, t in enumerate(scenario.templates):
        field = "id_prefix" if t.id_prefix else "archetype"
        for agent_id in template_ids(t):
            ids.add(agent_id, "agent", ("templates", i, field))
    return ids


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _ref(ids: _Ids, ident: str, want: tuple[str, ...], loc: Loc) -> list[Finding]:
    kind = ids.kind.get(ident)
    if kind in want:
        return []
    wanted = " or ".join(want)
    if kind is None:
        return [(loc, f"no {wanted} with id {ident!r}")]
    return [(loc, f"{ident!r} is {_a(kind)}, not {_a(wanted)}")]


def _goals(ids: _Ids, goals: list[Goal], base: Loc) -> list[Finding]:
    out: list[Finding] = []
    for j, goal in enumerate(goals):
        want = _GOAL_TARGETS.get(goal.kind)
        if want and goal.target is not None:
            out += _ref(ids, goal.target, want, (*base, "goals", j, "target"))
    return out


def check_references(scenario: Scenario, expanded: Scenario) -> list[Finding]:
    """Dangling or duplicate ids, self-relationships, overfull places, routine times."""
    ids = _collect(scenario)
    out = list(ids.findings)
    world = scenario.world
    if not expanded.world.places:
        out.append((("world", "places"), "a world needs at least one place (or a grid)"))
    for i, p in enumerate(world.places):
        for j, n in enumerate(p.neighbors):
            loc: Loc = ("world", "places", i, "neighbors", j)
            out += (
                [(loc, "a place cannot neighbour itself")]
                if n == p.id
                else _ref(ids, n, ("place",), loc)
            )
    for i, o in enumerate(world.objects):
        out += _ref(ids, o.place, ("place",), ("world", "objects", i, "place"))
        for j, who in enumerate(o.rules.allowed):
            out += _ref(ids, who, ("agent",), ("world", "objects", i, "rules", "allowed", j))
    day = scenario.simulation.ticks_per_day
    for i, a in enumerate(scenario.agents):
        out += _ref(ids, a.place, ("place",), ("agents", i, "place"))
        seen: dict[str, int] = {}
        for j, rel in enumerate(a.relationships):
            loc = ("agents", i, "relationships", j, "target")
            if rel.target == a.id:
                out.append((loc, "a relationship to oneself"))
            elif rel.target in seen:
                out.append(
                    (loc, f"{rel.target!r} already appears in relationships[{seen[rel.target]}]")
                )
            else:
                seen[rel.target] = j
                out += _ref(ids, rel.target, ("agent",), loc)
        for j, step in enumerate(a.routine):
            out += _ref(ids, step.place, ("place",), ("agents", i, "routine", j, "place"))
            if step.start >= day:
                out.append(
                    (
                        ("agents", i, "routine", j, "start"),
                        f"{step.start} is past the end of the day (ticks_per_day {day})",
                    )
                )
        out += _goals(ids, a.goals, ("agents", i))
    for i, t in enumerate(scenario.templates):
        for j, pid in enumerate(t.places):
            out += _ref(ids, pid, ("place",), ("templates", i, "places", j))
        out += _goals(ids, t.goals, ("templates", i))
    out += _capacity(scenario, expanded)
    out += _link_lengths(scenario, expanded)
    return out


def _link_lengths(scenario: Scenario, expanded: Scenario) -> list[Finding]:
    """A link longer than the longest allowed move could never be walked."""
    limit = scenario.world.max_move_distance
    if limit is None:
        return []
    known = {p.id for p in expanded.world.places}
    out: list[Finding] = []
    for i, p in enumerate(scenario.world.places):
        for j, n in enumerate(p.neighbors):
            if n in known and n != p.id and (d := expanded.distance(p.id, n)) > limit:
                out.append(
                    (
                        ("world", "places", i, "neighbors", j),
                        f"{n!r} is {d:.1f} away, beyond max_move_distance {limit:g}",
                    )
                )
    grid = scenario.world.grid
    if grid and (grid.rows > 1 or grid.cols > 1) and grid.spacing > limit:
        out.append(
            (
                ("world", "grid", "spacing"),
                f"{grid.spacing:g} is beyond max_move_distance {limit:g}",
            )
        )
    return out


def _capacity(scenario: Scenario, expanded: Scenario) -> list[Finding]:
    """A place must hold everyone who starts in it: the world enforces capacity from tick 1."""
    count = Counter(a.place for a in expanded.agents)
    explicit = {p.id: i for i, p in enumerate(scenario.world.places)}
    out: list[Finding] = []
    grid_reported = False
    for p in expanded.world.places:
        if p.capacity is None or count[p.id] <= p.capacity:
            continue
        if p.id in explicit:
            loc: Loc = ("world", "places", explicit[p.id], "capacity")
        elif grid_reported:
            continue
        else:
            loc, grid_reported = ("world", "grid", "capacity"), True
        out.append(
            (loc, f"{count[p.id]} agents start in {p.id!r} but its capacity is {p.capacity}")
        )
    return out
