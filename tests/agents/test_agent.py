"""The cognitive loop of one agent, fed by hand (no server): perceive, plan, act, reflect."""

from __future__ import annotations

import json
import uuid

from scrai.agents.agent import CognitiveAgent, action_event_id
from scrai.agents.brains.rule import RuleBrain
from scrai.agents.mind import Mind
from scrai.agents.view import Happening, WorldView
from scrai.events import ActionEvent, parse_event
from tests.scenarios import social_town


def make(agent: str = "ann", mind: Mind | None = None, **overrides) -> CognitiveAgent:
    scenario = social_town(**overrides)
    spec = next(a for a in scenario.agents if a.id == agent)
    return CognitiveAgent(scenario, spec, RuleBrain(scenario, spec), mind)


def view(tick: int, places: dict[str, str], **agent_state) -> WorldView:
    agents = {
        a: {"place": p, "action_seq": tick - 1, "last_rejection": None} for a, p in places.items()
    }
    for a, extra in agent_state.items():
        agents[a].update(extra)
    return WorldView(
        tick, "run-1", agents, {"bench": {"place": "park", "users": [], "users_tick": 0}}
    )


def said(tick: int, actor: str, to: str | None, text: str, place: str) -> Happening:
    return Happening(tick, actor, {"kind": "speak", "to": to, "text": text}, place, (), {})


async def test_one_tick_gives_one_valid_action_event_with_the_contract_id():
    ann = make()
    out = await ann.tick(view(3, {"ann": "home", "bob": "cafe"}))
    event = parse_event(out.fields)
    assert isinstance(event, ActionEvent) and event.entity_id == "ann" and event.tick == 3
    assert event.sequence == 3  # action_seq (2) + 1
    assert str(event.event_id) == str(uuid.uuid5(uuid.NAMESPACE_URL, "scrai:run-1:ann:3"))
    assert action_event_id("run-1", "ann", 3) == out.fields["event_id"]
    decision = json.loads(out.mind["last_decision"])
    assert decision["tick"] == 3 and decision["brain"] == "rule" and decision["reason"]
    assert {"needs", "plan_step", "memories"} <= set(decision["trace"])
    assert await ann.tick(view(3, {"ann": "home"})) is None  # one action per tick


async def test_what_it_hears_moves_ties_goals_and_memories():
    ann = make(
        ann={"goals": [{"description": "Catch up with Bob", "kind": "meet", "target": "bob"}]}
    )
    before = ann.mind.affinity["bob"]
    ann.absorb(said(1, "bob", "ann", "Ann! Good to see you.", "home"))
    ann.absorb(said(1, "dee", None, "Anyone seen my keys?", "park"))  # too far to hear
    ann.caught_up(1, "5-0")
    assert ann.mind.affinity["bob"] > before
    assert ann.mind.goals[-1]["status"] == "achieved"
    assert [e["text"] for e in ann.mind.episodes if e["kind"] == "conversation"] == [
        "Bob Ray said to me: Ann! Good to see you."
    ]
    assert ann.mind.seen_tick == 1 and ann.mind.stream_pos == "5-0"
    ann.absorb(said(1, "bob", "ann", "again", "home"))  # already taken in: ignored
    assert len([e for e in ann.mind.episodes if e["kind"] == "conversation"]) == 1


async def test_a_refusal_revises_the_plan_and_an_object_for_others_becomes_a_request():
    ann = make(
        ann={"goals": [{"description": "Learn the piano", "kind": "use", "target": "piano"}]}
    )
    ann.mind.last_tick, ann.mind.last_action = (
        4,
        {"kind": "interact", "object_id": "piano", "verb": "play"},
    )
    rejection = {"tick": 4, "reason": "not_allowed", "message": "only bob may play"}
    await ann.tick(view(5, {"ann": "cafe", "bob": "park"}, ann={"last_rejection": rejection}))
    goal = ann.mind.goals[0]
    assert goal["kind"] == "meet" and goal["target"] == "bob" and goal["revised_from"] == "piano"
    assert any("will ask Bob Ray" in r["why"] for r in ann.mind.revisions)


async def test_reflection_comes_when_enough_has_happened():
    ann = make()
    for t in range(1, 5):
        ann.absorb(said(t, "bob", "ann", f"Hello Ann, line {t}.", "home"))
        ann.caught_up(t, f"{t}-0")
    out = await ann.tick(view(5, {"ann": "home", "bob": "home"}))
    assert out.reflections and all(r["kind"] == "reflection" for r in out.reflections)
    assert any("Bob Ray" in r["text"] for r in out.reflections)
    assert ann.mind.importance == 0.0


async def test_a_saved_mind_resumes_exactly():
    ann = make()
    for t in range(1, 4):
        await ann.tick(view(t, {"ann": "home", "bob": "home"}))
    fields = ann.mind.to_hash()
    restored = Mind.from_hash(fields)
    assert restored == ann.mind
    twin = make(mind=restored)
    a = await ann.tick(view(4, {"ann": "home", "bob": "home"}))
    b = await twin.tick(view(4, {"ann": "home", "bob": "home"}))
    assert (
        a.fields["payload"] == b.fields["payload"] and a.fields["event_id"] == b.fields["event_id"]
    )
    assert Mind.from_hash({}) is None and Mind.from_hash({"state": "{nonsense"}) is None


async def test_an_event_naming_an_unknown_place_is_skipped_not_fatal():
    ann = make()
    ann.absorb(said(1, "bob", None, "Hello, anyone?", "atlantis"))
    ann.absorb(said(1, "bob", "ann", "Hi Ann", "home"))
    assert [e["text"] for e in ann.mind.episodes] == ["Bob Ray said to me: Hi Ann"]
    assert (
        Happening.from_fields({"type": "world_state_committed", "tick": "x", "entity_id": "a"})
        is None
    )
