"""Day plans, goal stacks, needs and ties: pure logic, no server."""

from __future__ import annotations

from scrai.agents import needs, planner, social
from scrai.agents.geometry import WorldIndex
from scrai.scenario.model import Agent, Traits
from tests.scenarios import social_town


def test_world_index_paths_and_ranges():
    index = WorldIndex(social_town())
    assert index.neighbors["cafe"] == ("home", "park")  # links are two-way
    assert index.next_hop("home", "park") == "cafe"
    assert index.hops_between("home", "park") == 2
    assert [p for p, _ in index.near("cafe", 10)] == ["cafe", "home", "park"]
    assert index.in_reach("park", "bench") and not index.in_reach("cafe", "bench")


def test_routine_becomes_the_day_plan():
    scenario = social_town(
        ann={
            "routine": [
                {"start": 5, "place": "cafe", "activity": "coffee"},
                {"start": 12, "place": "park", "activity": "walk"},
            ]
        }
    )
    index = WorldIndex(scenario)
    plan = planner.day_plan(index, scenario.agents[0], scenario.seed, day=0)
    assert [(s["start"], s["end"], s["place"]) for s in plan] == [
        (0, 5, "home"),
        (5, 12, "cafe"),
        (12, 20, "park"),
    ]
    assert planner.current_step(plan, 7)["activity"] == "coffee"


def test_generated_plans_are_seeded_and_use_goal_places():
    scenario = social_town(
        dee={"goals": [{"description": "See the cafe", "kind": "visit", "target": "cafe"}]}
    )
    index = WorldIndex(scenario)
    dee = scenario.agents[3]
    first = planner.day_plan(index, dee, 7, day=0)
    assert first == planner.day_plan(index, dee, 7, day=0)
    assert first[0]["start"] == 0 and first[-1]["end"] == 20
    assert "cafe" in [s["place"] for s in first]
    days = {
        tuple(s["place"] for s in planner.day_plan(index, dee, seed, day=0)) for seed in range(20)
    }
    assert len(days) > 1  # the seed matters


def test_a_refused_place_is_replaced_by_a_similar_one():
    scenario = social_town()
    index = WorldIndex(scenario)
    plan = [{"start": 0, "end": 20, "place": "park", "activity": "walk", "source": "plan"}]
    assert planner.replace_place(plan, plan[0], index, "park") == "cafe"  # the other social place
    assert plan[0]["place"] == "cafe" and plan[0]["source"] == "revised"


def test_goal_stack_orders_reaches_and_sets_aside():
    spec = Agent.model_validate(
        {
            "id": "x",
            "name": "X",
            "place": "home",
            "goals": [
                {"description": "low", "priority": 0.2},
                {"description": "high", "priority": 0.9},
            ],
        }
    )
    goals = planner.initial_goals(spec)
    assert [g["description"] for g in goals] == ["high", "low"]
    planner.block(goals, goals[0], tick=10, why="capacity_full")
    assert [g["description"] for g in planner.active_goals(goals, 11)] == ["low"]
    assert [g["description"] for g in planner.active_goals(goals, 10 + planner.BLOCKED_TICKS)] == [
        "high",
        "low",
    ]
    planner.achieve(goals, goals[0], tick=20)
    assert goals[-1]["status"] == "achieved" and goals[-1]["achieved_at"] == 20


def test_needs_grow_with_traits_and_fall_when_met():
    lonely, loner = needs.initial_needs(Traits()), needs.initial_needs(Traits())
    for _ in range(10):
        needs.grow(lonely, Traits(sociability=1.0))
        needs.grow(loner, Traits(sociability=0.0))
    assert lonely["social"] > loner["social"]
    needs.satisfy(lonely, "social", 5)
    assert lonely["social"] == 0.0
    assert needs.goal_pressure([{"priority": 0.8, "status": "active"}], 60) > needs.goal_pressure(
        [{"priority": 0.8, "status": "active"}], 0
    )
    assert needs.goal_pressure([{"priority": 0.8, "status": "achieved"}], 60) == 0.0


def test_ties_form_sour_and_fade():
    aff: dict[str, float] = {}
    for _ in range(10):
        social.conversation(aff, "bob", agreeableness=0.5, hostile=False)
    assert aff["bob"] > 0.2  # talking makes friends
    warm = aff["bob"]
    social.contest(aff, "bob", "rival")
    social.conversation(aff, "bob", agreeableness=0.5, hostile=True)
    assert aff["bob"] < warm
    for _ in range(2000):
        social.drift(aff, {}, touched=set())
    assert "bob" not in aff  # an unattended tie with a stranger fades away
    kept = {"ann": 0.9}
    for _ in range(2000):
        social.drift(kept, {"ann": 0.4}, touched=set())
    assert abs(kept["ann"] - 0.4) < 0.01  # a scenario tie relaxes to its baseline
    assert social.label(-0.5, "rival") == "rival" and social.label(0.6, None) == "friend"
    assert social.label(0.0, None) == "stranger"
