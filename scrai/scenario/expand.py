"""Deterministic expansion of grids and templates into a self-contained scenario.

Everything random is drawn from ``random.Random(f"{seed}:{archetype}")`` in a
fixed order, so the same file and seed always give the same cast, in any
process (string seeds are hashed with SHA-512, not Python's salted hash).
The result has ``grid=None`` and ``templates=[]``: it is what the world stores.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from scrai.scenario.model import (
    Agent,
    Archetype,
    Grid,
    Place,
    Relationship,
    Scenario,
    Traits,
    World,
)

TRAIT_NAMES = tuple(Traits.model_fields)


def grid_place_id(grid: Grid, row: int, col: int) -> str:
    return f"{grid.prefix}-{row}-{col}"


def grid_places(grid: Grid) -> list[Place]:
    """Cells ``<prefix>-<row>-<col>`` at x = col*spacing, y = row*spacing, 4-neighbour links."""
    places = []
    for r in range(grid.rows):
        for c in range(grid.cols):
            links = [(r - 1, c), (r, c - 1), (r, c + 1), (r + 1, c)]
            places.append(
                Place.model_construct(
                    id=grid_place_id(grid, r, c),
                    name=f"{grid.prefix.capitalize()} {r},{c}",
                    description="",
                    position=(c * grid.spacing, r * grid.spacing),
                    capacity=grid.capacity,
                    neighbors=[
                        grid_place_id(grid, rr, cc)
                        for rr, cc in links
                        if 0 <= rr < grid.rows and 0 <= cc < grid.cols
                    ],
                    tags=list(grid.tags),
                )
            )
    return places


def _symmetric(places: list[Place]) -> list[Place]:
    """Every link two-way, each neighbour once, in first-seen order."""
    known = {p.id for p in places}
    links: dict[str, dict[str, None]] = {p.id: dict.fromkeys(p.neighbors) for p in places}
    for p in places:
        for n in p.neighbors:
            if n in known and n != p.id:
                links[n].setdefault(p.id)
    return [
        p
        if list(links[p.id]) == p.neighbors
        else p.model_copy(update={"neighbors": list(links[p.id])})
        for p in places
    ]


def template_ids(template: Archetype) -> list[str]:
    """``<id_prefix or archetype>-<n>``, n from 1, zero-padded to the width of ``count``."""
    prefix = template.id_prefix or template.archetype
    width = len(str(template.count))
    return [f"{prefix}-{n:0{width}d}" for n in range(1, template.count + 1)]


def _name(template: Archetype, i: int) -> str:
    pool = template.names
    if not pool:
        return f"{template.archetype.capitalize()} {i + 1}"
    if i < len(pool):
        return pool[i]
    return f"{pool[i % len(pool)]} {i // len(pool) + 1}"


def _draw_place(
    rng: random.Random, pool: list[str], occupancy: Counter[str], capacity: dict[str, int | None]
) -> str:
    # Prefer a place with room so the world can seed without breaking its own rule;
    # when everything is full the reference check reports the overflow.
    start = rng.randrange(len(pool))
    for step in range(len(pool)):
        pid = pool[(start + step) % len(pool)]
        cap = capacity.get(pid)
        if cap is None or occupancy[pid] < cap:
            return pid
    return pool[start]


def _others(
    rng: random.Random, n: int, k: int, exclude: set[int], preferred: list[int]
) -> list[int]:
    """k distinct indices not in ``exclude``: from ``preferred`` first, then anyone."""
    k = min(k, n - len(exclude))
    if k <= 0:
        return []
    picks = [
        i for i in rng.sample(preferred, min(len(preferred), k + len(exclude))) if i not in exclude
    ]
    picks = picks[:k]
    chosen = exclude | set(picks)
    while len(picks) < k:
        i = rng.randrange(n)
        if i not in chosen:
            chosen.add(i)
            picks.append(i)
    return picks


def expand_template(
    scenario: Scenario,
    template: Archetype,
    places: list[Place],
    occupancy: Counter[str],
) -> list[Agent]:
    """The agents of one template. Draw order: per agent place then traits; then friends, rivals."""
    rng = random.Random(f"{scenario.seed}:{template.archetype}")
    capacity = {p.id: p.capacity for p in places}
    pool = list(template.places) or [p.id for p in places]
    ids = template_ids(template)
    homes: list[str] = []
    traits: list[Traits] = []
    for _ in ids:
        home = _draw_place(rng, pool, occupancy, capacity) if pool else ""
        occupancy[home] += 1
        homes.append(home)
        values: dict[str, float] = {}
        for name in TRAIT_NAMES:
            spec = template.traits.get(name)
            if isinstance(spec, tuple):
                values[name] = round(rng.uniform(spec[0], spec[1]), 3)
            elif spec is not None:
                values[name] = float(spec)
        traits.append(Traits(**values))

    # Friends come from the same starting place, so the expansion forms local clusters;
    # rivals come from anywhere, so clusters have something to push against.
    by_place: dict[str, list[int]] = defaultdict(list)
    for i, home in enumerate(homes):
        by_place[home].append(i)
    n = len(ids)
    agents = []
    for i, agent_id in enumerate(ids):
        friends = _others(rng, n, template.friends_per_agent, {i}, by_place[homes[i]])
        rivals = _others(rng, n, template.rivals_per_agent, {i, *friends}, [])
        relationships = [
            Relationship(target=ids[j], kind="friend", strength=round(rng.uniform(0.4, 0.9), 2))
            for j in friends
        ] + [
            Relationship(target=ids[j], kind="rival", strength=round(rng.uniform(-0.8, -0.3), 2))
            for j in rivals
        ]
        name = _name(template, i)
        agents.append(
            Agent.model_construct(
                id=agent_id,
                name=name,
                persona=template.persona.replace("{name}", name),
                traits=traits[i],
                goals=[g.model_copy() for g in template.goals],
                place=homes[i],
                relationships=relationships,
                brain=template.brain.model_copy(),
                routine=[],
                archetype=template.archetype,
                secret=None,
            )
        )
    return agents


def expand_scenario(scenario: Scenario) -> Scenario:
    """The same scenario with the grid turned into places and templates into agents.

    Pure and deterministic; expanding an already expanded scenario changes nothing.
    References are not checked here (see ``scrai.scenario.references``).
    """
    world = scenario.world
    places = list(world.places) + (grid_places(world.grid) if world.grid else [])
    places = _symmetric(places)
    occupancy: Counter[str] = Counter(a.place for a in scenario.agents)
    agents = list(scenario.agents)
    for template in scenario.templates:
        agents += expand_template(scenario, template, places, occupancy)
    fields = {name: getattr(scenario, name) for name in Scenario.model_fields}
    fields.update(
        world=World.model_construct(
            places=places,
            grid=None,
            objects=list(world.objects),
            max_move_distance=world.max_move_distance,
        ),
        agents=agents,
        templates=[],
    )
    return Scenario.model_construct(**fields)
