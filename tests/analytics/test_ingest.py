"""The fold, without a server: equal to a brute-force recomputation, and batch-invariant."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from analytics import graph
from analytics.history import state_from_snapshot
from analytics.ingest import AnalyticsState
from analytics.params import Params
from analytics.state import dump
from scrai.events import Idle, Move, Speak
from tests.analytics.naive import recompute
from tests.analytics.synth import World
from tests.scenarios import grid_town


def fold(scenario, log, **params: object) -> AnalyticsState:
    base = Params.from_scenario(scenario)
    state = AnalyticsState.seeded(scenario, dataclasses.replace(base, **params))
    for i, event in enumerate(log):
        state.apply(f"1-{i}", event)
    return state


def assert_matches_naive(state: AnalyticsState, expected: dict) -> None:
    tick = state.meta.tick
    assert tick == expected["tick"]
    links = {(e.a, e.b): graph.link(e, state.params, tick) for e in state.edges.values()}
    assert set(links) == set(expected["edges"])
    for pair, want in expected["edges"].items():
        got = links[pair]
        assert got["weight"] == pytest.approx(want["weight"], rel=1e-9, abs=1e-12), pair
        for kind, w in want["kinds"].items():
            assert got["kinds"][kind]["weight"] == pytest.approx(w, rel=1e-9, abs=1e-12), (
                pair,
                kind,
            )
        assert got["kinds"]["proximity"]["ticks"] == want["proximity_ticks"], pair
        assert got["kinds"]["conversation"]["messages"] == want["messages"], pair
        assert got["kinds"]["conversation"]["turns"] == want["turns"], pair
        assert got["kinds"]["shared_object"]["uses"] == want["shared"], pair
    for agent, want in expected["nodes"].items():
        node = state.nodes[agent]
        for name in ("events", "messages_sent", "messages_received", "uses", "moves"):
            assert getattr(node, name) == want[name], (agent, name)
        assert state.movement[agent].distance == pytest.approx(want["distance"])
        assert node.place == expected["places"][agent]


@pytest.mark.parametrize("radius", [0.0, 10.5, 15.0])
def test_fold_equals_brute_force(radius: float) -> None:
    scenario = grid_town(agents=14, radius=radius)
    world = World(scenario).random_run(80, seed=11)
    assert_matches_naive(fold(scenario, world.committed), recompute(scenario, world.committed))


def test_tables_do_not_depend_on_batches() -> None:
    """Folding with a save after every entry or once at the end gives the same records."""
    scenario = grid_town()
    world = World(scenario).random_run(40, seed=5)
    one = fold(scenario, world.committed)
    other = AnalyticsState.seeded(scenario)
    for i, event in enumerate(world.committed):
        other.apply(f"1-{i}", event)
        for name in other.dirty:
            other.dirty[name].clear()  # as a save would
    for name in ("edges", "nodes", "movement", "places", "objects"):
        a, b = one.table(name), other.table(name)
        assert {k: dump(v) for k, v in a.items()} == {k: dump(v) for k, v in b.items()}


def test_dwell_and_place_occupancy_add_up() -> None:
    scenario = grid_town(agents=6)
    world = World(scenario).random_run(50, seed=2)
    state = fold(scenario, world.committed)
    tick = state.meta.tick
    for m in state.movement.values():
        assert sum(m.dwell_at(tick).values()) == tick
    total = 0
    for p in state.places.values():
        p.advance(state.params, tick)
        total += p.agent_ticks
    assert total == 6 * tick


def test_conversation_turns_and_broadcast() -> None:
    scenario = grid_town(agents=4, radius=0.0)
    world = World(scenario)
    # a00 at p00, a01 at p01, a02 at p02, a03 at p10; a01 walks over to a00.
    world.step({"a01": Move(to="p00")})
    world.step({"a00": Speak(to="a01", text="hi")})
    world.step({"a00": Speak(to="a01", text="how are you")})
    world.step({"a01": Speak(to="a00", text="fine")})
    world.step({"a01": Speak(text="everyone!")})  # heard by a00 (same place) and a03 (10 away)
    state = fold(scenario, world.committed)
    edge = state.edges["a00|a01"]
    assert (edge.messages, edge.turns, edge.msg_last) == (4, 2, 5)
    assert state.edges["a01|a03"].messages == 1
    assert "a01|a02" not in state.edges  # p02 is 14.1 from p00: out of hearing
    assert [ev[2] for ev in edge.evidence].count("conversation") == 4


def test_crowded_place_is_sampled_but_bounded() -> None:
    scenario = grid_town(agents=30, rows=1, cols=1, radius=0.0)
    world = World(scenario)
    for _ in range(20):
        world.step({a: Idle() for a in world.place})
    state = fold(scenario, world.committed, proximity_crowd_cap=10)
    per_agent_per_tick = {}
    for e in state.edges.values():
        for agent in (e.a, e.b):
            per_agent_per_tick[agent] = per_agent_per_tick.get(agent, 0) + e.prox_ticks
    # each agent is counted near exactly cap (5 on either side of the ring) others per tick
    assert set(per_agent_per_tick.values()) == {10 * 20}


def test_places_within_a_radius_match_brute_force() -> None:
    import random

    from analytics.space import Space

    rng = random.Random(1)
    positions = {f"p{i}": (rng.uniform(0, 100), rng.uniform(0, 100)) for i in range(300)}
    space = Space(positions)
    for radius in (0.0, 3.0, 10.0, 25.0):
        near = space.near(radius)
        for p in positions:
            want = sorted(q for q in positions if q != p and space.distance(p, q) <= radius)
            assert near.get(p, []) == want, (radius, p)


def test_a_broadcast_in_a_crowd_reaches_a_sample_of_it() -> None:
    scenario = grid_town(agents=30, rows=1, cols=1, radius=0.0)
    world = World(scenario)
    world.step({"a00": Speak(text="hear me")})
    world.step({"a00": Speak(text="hear me again")})
    state = fold(scenario, world.committed, proximity_crowd_cap=10)
    heard = sorted(e.messages for e in state.edges.values() if e.messages)
    assert sum(heard) == 20 and len(heard) >= 10  # 10 listeners each time, drawn per message
    assert state.nodes["a00"].messages_sent == 2


def test_snapshots_built_from_kept_rows_equal_ones_built_afresh() -> None:
    """Each snapshot's tie rows are kept serialised between snapshots; every snapshot of a run
    equals the one serialised from scratch at the same moment, and replays to the same graph."""
    scenario = grid_town(radius=10.5)
    world = World(scenario).random_run(60, seed=7)
    state = AnalyticsState.seeded(scenario)
    taken = 0
    for i, event in enumerate(world.committed):
        state.apply(f"1-{i}", event)
        if len(state.snapshots) > taken:
            tick, body = state.snapshots[-1]
            taken = len(state.snapshots)
            for touched in (set(), set(state.edges)):  # row by row; all rows in one call
                afresh = copy.copy(state)  # the same tables, no rows kept
                afresh._snap_rows, afresh._snap_order, afresh._snap_new = {}, [], []
                afresh._snap_stale = touched
                assert body == afresh.snapshot_body(tick), tick
            replayed = state_from_snapshot(json.loads(body), state.params, state.space)
            for key, edge in state.edges.items():
                assert replayed.edges[key].strength(state.params, tick) == pytest.approx(
                    edge.strength(state.params, tick), rel=1e-12
                )
    assert taken == 60 // state.params.snapshot_every_ticks


def test_records_stored_as_objects_by_earlier_versions_still_load() -> None:
    """Records are stored as arrays of their fields; tables an earlier version stored as JSON
    objects load to the same records, and a rebuild's comparison sees them as equal."""
    from analytics.rebuild import _parse
    from analytics.state import FIELDS, as_dict, load

    scenario = grid_town(radius=10.5)
    state = fold(scenario, World(scenario).random_run(30, seed=3).committed)
    for name in FIELDS:
        for record in state.table(name).values():
            as_object = json.dumps(as_dict(name, record))
            assert dump(load(name, as_object)) == dump(record) == dump(load(name, dump(record)))
            assert _parse(name, as_object) == _parse(name, dump(record)) == json.loads(dump(record))
