"""The rule brain: seeded, offline, driven by needs, traits, ties and goals (no server)."""

from __future__ import annotations

import random
from typing import Any

from scrai.agents import dialogue
from scrai.agents.brains.rule import RuleBrain
from scrai.agents.decision import DecisionContext, Perception, RecalledMemory, Seen
from scrai.events import Idle, Interact, Move, Speak
from tests.scenarios import social_town


def context(agent: str = "ann", place: str = "cafe", tick: int = 5, **kw: Any) -> DecisionContext:
    others = kw.pop("agents", [])
    perception = Perception(
        tick=tick,
        place=place,
        agents=[Seen("agent", a, p, d, {}) for a, p, d in others],
        objects=kw.pop("objects", []),
        events=kw.pop("events", []),
        rejections=kw.pop("rejections", []),
        reachable_places=kw.pop("reachable", ["home", "park"]),
    )
    base = dict(
        agent_id=agent,
        tick=tick,
        perception=perception,
        memories=[],
        plan_step=None,
        goals=[],
        needs={"social": 0.2, "rest": 0.1, "curiosity": 0.1, "goal": 0.2},
        relationships={},
        seed=7,
    )
    base.update(kw)
    return DecisionContext(**base)  # type: ignore[arg-type]


def brain(agent: str = "ann", **overrides: Any) -> RuleBrain:
    scenario = social_town(**overrides)
    return RuleBrain(scenario, next(a for a in scenario.agents if a.id == agent))


def test_same_inputs_same_choice_whatever_the_global_random_state():
    b = brain()
    ctx = context(agents=[("bob", "cafe", 0.0), ("dee", "cafe", 0.0)], relationships={"bob": 0.8})
    random.seed(1)
    first = b.choose(ctx)
    random.seed(99)
    random.random()
    assert b.choose(ctx) == first
    picks = {
        b.choose(context(tick=t, agents=[("bob", "cafe", 0.0)])).action.model_dump_json()
        for t in range(40)
    }
    assert len(picks) > 1  # the tick seeds the jitter: not one frozen answer


def test_a_lonely_agent_talks_to_a_friend_nearby():
    ctx = context(
        agents=[("bob", "cafe", 0.0), ("dee", "cafe", 0.0)],
        relationships={"bob": 0.8},
        needs={"social": 0.9, "rest": 0.0, "curiosity": 0.0, "goal": 0.0},
    )
    decision = brain().choose(ctx)
    assert isinstance(decision.action, Speak) and decision.action.to == "bob"
    assert "Bob" in decision.action.text
    assert decision.trace["options"][0]["reason"] == "talk with Bob Ray"


def test_timid_agents_avoid_rivals_and_bold_ones_confront_them():
    ctx = context(
        place="cafe",
        agents=[("cyd", "cafe", 0.0)],
        relationships={"cyd": -0.8},
        needs={"social": 0.5, "rest": 0.0, "curiosity": 0.0, "goal": 0.0},
    )
    timid = brain(ann={"traits": {"boldness": 0.0, "sociability": 0.5}}).choose(ctx)
    assert isinstance(timid.action, Move) and timid.reason == "avoid Cyd Fox"
    bold = brain(ann={"traits": {"boldness": 1.0, "agreeableness": 0.0}}).choose(ctx)
    assert isinstance(bold.action, Speak) and bold.action.to == "cyd"
    assert dialogue.tone(bold.action.text) == "hostile"


def test_goals_lead_the_way():
    goal = {
        "description": "Walk in the park",
        "kind": "visit",
        "target": "park",
        "priority": 0.9,
        "status": "active",
    }
    decision = brain().choose(context(place="home", goals=[goal], reachable=["cafe"]))
    assert decision.action == Move(to="cafe") and decision.trace["dest"] == "park"
    use = {
        "description": "Sit a while",
        "kind": "use",
        "target": "bench",
        "priority": 0.9,
        "status": "active",
    }
    bench = Seen(
        "object", "bench", "park", 0.0, {"in_reach": True, "satisfies": ["rest"], "users": []}
    )
    decision = brain().choose(
        context(place="park", goals=[use], objects=[bench], reachable=["cafe"])
    )
    assert decision.action == Interact(object_id="bench", verb="sit")
    meet = {
        "description": "Catch up with Bob",
        "kind": "meet",
        "target": "bob",
        "priority": 0.9,
        "status": "active",
    }
    decision = brain().choose(
        context(place="home", goals=[meet], reachable=["cafe"], last_seen={"bob": "park"})
    )
    assert decision.action == Move(to="cafe")


def test_a_refused_action_is_not_repeated_at_once():
    goal = {
        "description": "Walk in the park",
        "kind": "visit",
        "target": "park",
        "priority": 0.9,
        "status": "active",
    }
    rejected = [{"tick": 4, "reason": "capacity_full", "action": {"kind": "move", "to": "park"}}]
    decision = brain().choose(context(place="cafe", goals=[goal], rejections=rejected))
    assert decision.action != Move(to="park")


def test_replies_run_their_course():
    heard = Seen("event", "bob", "cafe", 0.0, {"action": "speak", "to": "ann", "text": "Hi Ann"})
    needs = {"social": 0.6, "rest": 0.0, "curiosity": 0.0, "goal": 0.0}
    step = {"start": 0, "end": 5, "place": "park", "activity": "walk"}
    situation = dict(
        agents=[("bob", "cafe", 0.0)],
        events=[heard],
        relationships={"bob": 0.5},
        needs=needs,
        plan_step=step,
    )
    fresh = brain().choose(context(**situation))
    assert isinstance(fresh.action, Speak) and fresh.action.to == "bob"
    talked = [
        RecalledMemory(f"self:{t}", t, "conversation", "Bob Ray said to me: hi", 1.0, 4.0)
        for t in range(6)
    ]
    tired = brain().choose(context(**situation, memories=talked))  # the same, after six talks
    assert tired.action == Move(to="park") and tired.reason == "plan: walk"


def test_sleep_in_the_plan_means_staying_put():
    step = {"start": 0, "end": 5, "place": "home", "activity": "sleep"}
    decision = brain().choose(context(place="home", plan_step=step, reachable=["cafe"]))
    assert decision.action == Idle(reason="sleep")


def test_dialogue_is_varied_and_personal():
    lines = {
        dialogue.line(
            random.Random(i),
            me="Ann Lee",
            name="Bob Ray",
            relation="friend",
            persona="Ann loves the garden and the river.",
            place="Cafe",
            memory="Cyd came to the Park",
        )
        for i in range(30)
    }
    assert len(lines) > 10
    assert all(line.startswith(("Bob", "Hey Bob")) for line in lines)
    assert any("the garden" in line or "the river" in line for line in lines)
    assert dialogue.interests("Ann loves the garden, the river and the slowly rising tide.") == [
        "the garden",
        "the river",
    ]


def test_a_sleeper_wakes_when_spoken_to():
    step = {"start": 0, "end": 5, "place": "home", "activity": "sleep"}
    call = Seen(
        "event", "bob", "home", 0.0, {"action": "speak", "to": "ann", "text": "Ann, wake up!"}
    )
    ctx = context(
        place="home",
        plan_step=step,
        reachable=["cafe"],
        agents=[("bob", "home", 0.0)],
        events=[call],
        relationships={"bob": 0.8},
        needs={"social": 0.5, "rest": 0.0, "curiosity": 0.0, "goal": 0.0},
    )
    decision = brain().choose(ctx)
    assert isinstance(decision.action, Speak) and decision.action.to == "bob"
