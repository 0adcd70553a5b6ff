"""The world's rules, pure: each accepted and each rejected, without a server."""

from __future__ import annotations

import pytest

from scrai.events import Idle, Interact, Move, RejectReason, Speak
from scrai.world.entities import AgentState
from scrai.world.rules import (
    Accepted,
    Rejected,
    WorldMap,
    admit,
    apply_action,
    record_rejection,
    refill,
)
from scrai.world.state import initial_state
from tests.scenarios import line_town


@pytest.fixture
def world() -> WorldMap:
    return WorldMap(line_town())


@pytest.fixture
def state(world: WorldMap):
    return initial_state(world.scenario)


def reason(outcome) -> RejectReason:
    assert isinstance(outcome, Rejected), outcome
    return outcome.reason


def test_move_to_a_linked_place_is_applied(world, state):
    out = apply_action(world, state, "alice", Move(to="square"), 1, 1)
    assert isinstance(out, Accepted)
    assert out.before["agent:alice"]["place"] == "home"
    assert out.after["agent:alice"] == {
        "place": "square",
        "action_seq": 1,
        "commit_seq": 1,
        "last_tick": 1,
        "last_rejection": None,
    }
    assert state.agents["alice"].place == "square"
    assert "alice" in state.occupants["square"] and "alice" not in state.occupants["home"]
    # seen leaving home and arriving at the square: bob, carol; dan at the cafe, 5 away
    assert out.observers == ["bob", "carol", "dan"]


@pytest.mark.parametrize(
    ("agent", "to", "expected"),
    [
        ("alice", "nowhere", RejectReason.UNKNOWN_TARGET),
        ("alice", "cafe", RejectReason.UNREACHABLE),  # not linked to home
        ("alice", "island", RejectReason.UNREACHABLE),
        ("alice", "home", RejectReason.UNREACHABLE),  # already there
        ("bob", "far", RejectReason.TOO_FAR),  # linked, 95 away, longest move 20
    ],
)
def test_move_rejections(world, state, agent, to, expected):
    before = state.agents[agent].to_dict()
    assert reason(apply_action(world, state, agent, Move(to=to), 1, 1)) == expected
    assert state.agents[agent].to_dict() == before  # a rejection changes nothing


def test_move_into_a_full_place(world, state):
    assert isinstance(apply_action(world, state, "bob", Move(to="cafe"), 1, 1), Accepted)
    # the cafe holds 2: dan and bob
    assert reason(apply_action(world, state, "carol", Move(to="cafe"), 1, 1)) == (
        RejectReason.CAPACITY_FULL
    )
    # a place freed by an earlier agent in the same tick can be taken
    assert isinstance(apply_action(world, state, "dan", Move(to="square"), 1, 1), Accepted)
    assert isinstance(apply_action(world, state, "carol", Move(to="cafe"), 2, 1), Accepted)


def test_speech_within_and_beyond_hearing(world, state):
    out = apply_action(world, state, "alice", Speak(to="bob", text="hi"), 1, 1)
    assert isinstance(out, Accepted) and out.after["agent:alice"]["place"] == "home"
    assert isinstance(apply_action(world, state, "bob", Speak(text="all"), 1, 1), Accepted)
    assert reason(apply_action(world, state, "alice", Speak(to="dan", text="x"), 2, 1)) == (
        RejectReason.OUT_OF_HEARING
    )
    assert reason(apply_action(world, state, "alice", Speak(to="zed", text="x"), 2, 1)) == (
        RejectReason.UNKNOWN_TARGET
    )
    assert reason(apply_action(world, state, "alice", Speak(to="alice", text="x"), 2, 1)) == (
        RejectReason.UNKNOWN_TARGET
    )


@pytest.mark.parametrize(
    ("agent", "obj", "verb", "expected"),
    [
        ("bob", "rock", "use", RejectReason.UNKNOWN_TARGET),
        ("bob", "well", "use", RejectReason.UNSUPPORTED_VERB),
        ("bob", "safe", "use", RejectReason.NOT_ALLOWED),
        ("alice", "well", "drink", RejectReason.OUT_OF_REACH),  # 5 away, reach 0
        ("alice", "bench", "sit", RejectReason.OUT_OF_REACH),  # 10 away, reach 5
    ],
)
def test_interaction_rejections(world, state, agent, obj, verb, expected):
    out = apply_action(world, state, agent, Interact(object_id=obj, verb=verb), 1, 1)
    assert reason(out) == expected


def test_interaction_allowed_and_in_reach(world, state):
    out = apply_action(world, state, "alice", Interact(object_id="safe"), 1, 1)
    assert isinstance(out, Accepted)
    assert out.after["object:safe"]["uses"] == 1
    assert out.after["object:safe"]["last_user"] == "alice"
    # the bench reaches 5: usable from the square, by any number in a tick
    for seq, agent in enumerate(["bob", "carol", "dan"], start=1):
        assert isinstance(
            apply_action(world, state, agent, Interact(object_id="bench", verb="sit"), seq, 1),
            Accepted,
        )
    assert state.objects["bench"].users == ["bob", "carol", "dan"]


def test_object_capacity_per_tick_and_resource_with_refill(world, state):
    drink = Interact(object_id="well", verb="drink")
    assert refill(world, state) == []  # full: nothing to top up
    out = apply_action(world, state, "bob", drink, 1, 1)
    assert isinstance(out, Accepted)
    assert out.before["object:well"]["resource"] == 2 and out.after["object:well"]["resource"] == 1
    # one user per tick
    assert reason(apply_action(world, state, "carol", drink, 1, 1)) == RejectReason.CAPACITY_FULL
    # refill 0.5 per tick: tick 2 has 1.5, tick 3 has 1.0, tick 4 has 0.5 (< cost 1)
    assert refill(world, state) == ["well"]
    assert isinstance(apply_action(world, state, "carol", drink, 2, 2), Accepted)
    refill(world, state)
    assert isinstance(apply_action(world, state, "bob", drink, 2, 3), Accepted)
    assert state.objects["well"].resource == 0
    refill(world, state)
    assert reason(apply_action(world, state, "carol", drink, 3, 4)) == (
        RejectReason.RESOURCE_EXHAUSTED
    )
    refill(world, state)
    assert isinstance(apply_action(world, state, "carol", drink, 4, 5), Accepted)
    for _ in range(10):
        refill(world, state)
    assert state.objects["well"].resource == 2  # never above its maximum


def test_idle_is_committed_and_counts(world, state):
    out = apply_action(world, state, "eve", Idle(), 4, 9)
    assert isinstance(out, Accepted)
    assert out.after["agent:eve"] == {
        "place": "far",
        "action_seq": 4,
        "commit_seq": 1,
        "last_tick": 9,
        "last_rejection": None,
    }
    assert out.observers == []  # no one within 6 of the far field


def test_unknown_agent(world, state):
    assert reason(apply_action(world, state, "zed", Idle(), 1, 1)) == RejectReason.UNKNOWN_AGENT


def _admit(agent=AgentState(place="home"), **kw):
    args = dict(
        agent_id="alice",
        sequence=5,
        last_sequence=4,
        action_tick=10,
        last_closed=9,
        clock_tick=10,
        already_staged=False,
    )
    args.update(kw)
    return admit(agent, **args)


def test_admission():
    assert _admit() is None  # the open tick
    assert _admit(action_tick=11) is None  # the next tick waits staged
    assert _admit(action_tick=10, clock_tick=9) is None  # paused after 9: 10 is next
    assert _admit(agent=None).reason == RejectReason.UNKNOWN_AGENT
    assert _admit(action_tick=9).reason == RejectReason.LATE
    assert _admit(action_tick=12).reason == RejectReason.EARLY
    assert _admit(already_staged=True).reason == RejectReason.ALREADY_ACTED
    assert _admit(sequence=4).reason == RejectReason.OUT_OF_SEQUENCE
    assert _admit(sequence=9) is None  # gaps are allowed; order is not


def test_rejection_is_recorded_and_uses_up_the_sequence():
    agent = AgentState(place="home", action_seq=3)
    record_rejection(agent, 5, 7, Rejected(RejectReason.TOO_FAR, "far"))
    assert agent.action_seq == 5
    assert agent.last_rejection == {"tick": 7, "reason": "too_far", "message": "far"}
    record_rejection(agent, 2, 8, Rejected(RejectReason.LATE, "late"))
    assert agent.action_seq == 5
