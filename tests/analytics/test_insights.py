"""Each insight fires on a crafted sequence of committed events, and not on its near miss."""

from __future__ import annotations

from typing import Any

from analytics import graph
from analytics.ingest import AnalyticsState
from analytics.insights import View, detect
from analytics.metrics import rivals_of
from analytics.rejections import count_rejections
from scrai.events import Interact, Move, Speak
from scrai.scenario.model import Scenario
from tests.analytics.synth import World
from tests.scenarios import grid_town


def analyse(world: World, previous: list[list[str]] | None = None) -> tuple[list[dict], dict]:
    scenario: Scenario = world.scenario
    state = AnalyticsState.seeded(scenario)
    for i, event in enumerate(world.committed):
        state.apply(f"1-{i}", event)
    tick = state.meta.tick
    links = [graph.link(e, state.params, tick) for e in state.edges.values()]
    g = graph.build_graph(
        state.nodes, graph.select(links, min_weight=state.params.min_tie_strength)
    )
    metrics = graph.compute_metrics(g, seed=scenario.seed)
    counts, evidence = count_rejections([("0-1", e) for e in world.rejected])
    view = View(
        params=state.params,
        tick=tick,
        nodes=state.nodes,
        edges=state.edges,
        objects=state.objects,
        places=state.places,
        rejections=counts,
        rejection_evidence=evidence,
        metrics=metrics,
        previous_communities=previous,
        rivals=rivals_of(scenario),
    )
    return detect(view), metrics


def of(found: list[dict], kind: str) -> list[dict]:
    return [i for i in found if i["kind"] == kind]


def ids(world: World) -> set[str]:
    return {str(e.event_id) for e in [*world.committed, *world.rejected]}


def assert_evidence(insight: dict[str, Any], world: World) -> None:
    assert insight["evidence"], insight
    known = ids(world)
    for ev in insight["evidence"]:
        assert ev["event_id"] in known and isinstance(ev["tick"], int)


def chat(world: World, a: str, b: str, times: int) -> None:
    for _ in range(times):
        world.step({a: Speak(to=b, text="...")})


# -- friendship and falling out ------------------------------------------------------------


def test_friendship_fires_when_a_tie_crosses_the_threshold() -> None:
    world = World(grid_town(agents=4, radius=0.0))
    world.step({"a01": Move(to="p00")})
    chat(world, "a00", "a01", 3)  # 3 messages + proximity: above 3.0
    found = of(analyse(world)[0], "friendship")
    assert [i["agents"] for i in found] == [["a00", "a01"]]
    assert_evidence(found[0], world)
    assert found[0]["tick"] == 4


def test_friendship_near_miss() -> None:
    world = World(grid_town(agents=4, radius=0.0))
    world.step({"a01": Move(to="p00")})
    chat(world, "a00", "a01", 2)  # 2 messages + a little proximity: below 3.0
    assert of(analyse(world)[0], "friendship") == []


def _friends_then_apart(idle_ticks: int) -> World:
    world = World(grid_town(agents=4, radius=0.0))
    world.step({"a01": Move(to="p00")})
    chat(world, "a00", "a01", 4)
    world.step({"a01": Move(to="p01")})
    for _ in range(idle_ticks):
        world.step({})
    return world


def test_falling_out_when_a_friendship_decays_below_half() -> None:
    world = _friends_then_apart(40)  # half-life 30: 40 ticks leave ~40%
    found = of(analyse(world)[0], "falling_out")
    assert [i["agents"] for i in found] == [["a00", "a01"]]
    assert_evidence(found[0], world)


def test_falling_out_near_miss() -> None:
    world = _friends_then_apart(20)  # ~63% of the peak: cooling, not fallen out
    assert of(analyse(world)[0], "falling_out") == []


def test_rivals_clash_over_an_object_and_not_when_they_take_turns() -> None:
    # a00 and a01 are declared rivals; the well (p00) takes two users a tick.
    clash = World(grid_town(agents=4, radius=0.0))
    clash.step({"a01": Move(to="p00")})
    clash.step({"a00": Interact(object_id="well"), "a01": Interact(object_id="well")})
    found = of(analyse(clash)[0], "falling_out")
    assert [i["agents"] for i in found] == [["a00", "a01"]] and found[0]["objects"] == ["well"]
    assert_evidence(found[0], clash)

    turns = World(grid_town(agents=4, radius=0.0))
    turns.step({"a01": Move(to="p00")})
    turns.step({"a00": Interact(object_id="well")})
    turns.step({"a01": Interact(object_id="well")})
    assert of(analyse(turns)[0], "falling_out") == []


# -- isolated and hub --------------------------------------------------------------------


def _village(a03_talks: bool) -> World:
    world = World(grid_town(agents=4, radius=0.0, hearing=5.0))
    world.step({"a01": Move(to="p00"), "a02": Move(to="p01")})
    world.step({"a02": Move(to="p00")})
    for i in range(22):
        actions: dict[str, Any] = {"a00": Speak(text="news")}
        if a03_talks and i == 19:
            actions["a03"] = Move(to="p00")
        if a03_talks and i == 20:
            actions["a03"] = Speak(to="a00", text="hello?")
        world.step(actions)
    return world


def test_isolated_agent() -> None:
    world = _village(a03_talks=False)
    found = of(analyse(world)[0], "isolated")
    assert [i["agents"] for i in found] == [["a03"]]
    assert_evidence(found[0], world)


def test_isolated_near_miss_one_tie_is_enough() -> None:
    assert of(analyse(_village(a03_talks=True))[0], "isolated") == []


def _star(leaves: list[str]) -> World:
    world = World(grid_town(agents=6, radius=0.0))  # a04 sits at p11, the middle
    for leaf in leaves:
        chat(world, "a04", leaf, 2)
    return world


def test_hub_of_the_town() -> None:
    world = _star(["a01", "a03", "a05"])
    found = of(analyse(world)[0], "hub")
    assert [i["agents"] for i in found] == [["a04"]]
    assert_evidence(found[0], world)


def test_hub_near_miss_two_ties_are_not_a_hub() -> None:
    assert of(analyse(_star(["a01", "a03"]))[0], "hub") == []


# -- factions ------------------------------------------------------------------------------


def _gathering(members: list[str]) -> World:
    world = World(grid_town(agents=6, radius=0.0, hearing=5.0, tie_half_life_ticks=5.0))
    moves = {"a01": "p00", "a03": "p00"}
    world.step({m: Move(to=moves[m]) for m in members if m in moves})
    for _ in range(3):
        world.step({m: Speak(text="together") for m in members})
    return world


def test_faction_forms() -> None:
    found, _ = analyse(_gathering(["a00", "a01", "a03"]))
    forming = of(found, "faction_formed")
    assert [i["agents"] for i in forming] == [["a00", "a01", "a03"]]
    assert forming[0]["evidence"]


def test_faction_near_miss_a_pair_is_not_a_faction() -> None:
    found, _ = analyse(_gathering(["a00", "a01"]))
    assert of(found, "faction_formed") == []


def _split(leavers: list[str]) -> tuple[World, list[list[str]]]:
    world = World(grid_town(agents=6, radius=0.0, hearing=5.0, tie_half_life_ticks=5.0))
    world.step({"a01": Move(to="p00"), "a03": Move(to="p00"), "a04": Move(to="p01")})
    world.step({"a04": Move(to="p00")})
    for _ in range(3):
        world.step({m: Speak(text="all of us") for m in ("a00", "a01", "a03", "a04")})
    _, before = analyse(world)
    world.step({m: Move(to="p01") for m in leavers})
    for _ in range(25):  # old ties fade (half-life 5); each side keeps talking among itself
        world.step({m: Speak(text="us") for m in ("a00", "a01", "a03", "a04")})
    return world, before["communities"]


def test_faction_splits() -> None:
    world, before = _split(["a03", "a04"])
    assert ["a00", "a01", "a03", "a04"] in before
    found = of(analyse(world, previous=before)[0], "faction_split")
    assert len(found) == 1 and found[0]["groups"] == [["a00", "a01"], ["a03", "a04"]]


def test_faction_split_near_miss_one_member_leaving() -> None:
    world, before = _split(["a04"])
    assert of(analyse(world, previous=before)[0], "faction_split") == []


# -- contested object and hotspot ---------------------------------------------------------------


def _bench(rounds: int) -> World:
    # the bench (one user a tick) is at p11, a04's place
    world = World(grid_town(agents=6, radius=0.0))
    world.step({"a01": Move(to="p11")})
    for _ in range(rounds):
        world.step({"a01": Interact(object_id="bench"), "a04": Interact(object_id="bench")})
    return world


def test_contested_object() -> None:
    world = _bench(3)
    found = of(analyse(world)[0], "contested_object")
    assert [(i["objects"], i["agents"]) for i in found] == [(["bench"], ["a01", "a04"])]
    assert found[0]["rejections"] == 3
    assert_evidence(found[0], world)


def test_contested_object_near_miss() -> None:
    assert of(analyse(_bench(2))[0], "contested_object") == []


def _square(joiners: list[str]) -> World:
    world = World(
        grid_town(agents=6, radius=0.0)
    )  # a00 p00, a01 p01, a02 p02, a03 p10, a04 p11, a05 p12
    world.step({j: Move(to="p00") for j in joiners})
    for _ in range(39):
        world.step({})
    return world


def test_hotspot() -> None:
    world = _square(["a01", "a03"])
    found = of(analyse(world)[0], "hotspot")
    assert [i["places"] for i in found] == [["p00"]]
    assert found[0]["agent_ticks"] == 60 and found[0]["window"] == [21, 40]
    assert_evidence(found[0], world)


def test_hotspot_near_miss() -> None:
    assert of(analyse(_square(["a01"]))[0], "hotspot") == []
