"""The events the world writes by hand read back exactly as the pydantic models write them.

The world builds its staged entries, committed and rejected events without the models
(the hot path); each must parse back through ``parse_event`` to the event the model
would have produced, with and without a trace id, through the real server's script.
"""

from __future__ import annotations

import json
import time
import uuid

import orjson
import pytest

from scrai.events import (
    ActionEvent,
    Idle,
    Interact,
    Move,
    RejectReason,
    Speak,
    WorldStateRejectedEvent,
    parse_event,
)
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.world.rules import Rejected
from scrai.world.state import Staged, action_fields, encode_staged
from scrai.world.system import _XADD_EVENTS_LUA, rejected_fields, rejected_payload, uuid5_url
from tests.events_factory import action, committed, rejected
from tests.helpers import wait_for
from tests.scenarios import place, scenario
from tests.world.driver import closed, running_world, tick_open

ACTIONS = [
    Move(to="square"),
    Speak(text='hé "you"\n\\ \u2028 \x01'),
    Speak(to="bob", text="hi"),
    Interact(object_id="well"),
    Interact(object_id="well", verb="drink"),
    Idle(),
    Idle(reason="tired"),
]


def event(act, trace_id: str | None = None, sequence: int = 3, tick: int = 2) -> ActionEvent:
    return action("alice", sequence, tick, act, trace_id=trace_id)


def as_stored(fields: dict) -> dict[str, str]:
    """What a reader gets back from Redis: every value text."""
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in fields.items()}


@pytest.mark.parametrize("act", ACTIONS)
def test_action_fields_are_what_the_model_writes(act):
    assert orjson.loads(orjson.dumps(action_fields(act))) == json.loads(act.model_dump_json())
    assert list(action_fields(act)) == list(type(act).model_fields)


@pytest.mark.parametrize("act", ACTIONS)
@pytest.mark.parametrize("trace_id", [None, "trace-1", ""])
def test_staged_entry_reads_back_as_the_action_event(act, trace_id):
    original = event(act, trace_id)
    fields = json.loads(encode_staged(Staged.of(original)))
    assert parse_event(fields) == original
    assert fields.keys() == original.to_fields().keys()


@pytest.mark.parametrize("trace_id", [None, "trace-1"])
def test_rejected_fields_read_back_as_the_model_would_write_them(trace_id):
    original = event(Speak(to="bob", text="hi"), trace_id)
    verdict = Rejected(RejectReason.OUT_OF_HEARING, 'bob is "12" away')
    now = time.time()
    fields = as_stored(rejected_fields(Staged.of(original), verdict, now))
    expected = rejected(
        "alice",
        3,
        2,
        original.payload.action,
        verdict.reason,
        verdict.message,
        action_event_id=original.event_id,
        trace_id=trace_id,
        timestamp=now,
    )
    assert parse_event(fields) == expected
    assert fields.keys() == expected.to_fields().keys()


def test_uuid5_url_is_uuid5():
    for name in ["commit:x", "reject:" + str(uuid.uuid4()), "é"]:
        assert uuid5_url(name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))


async def test_the_tick_script_writes_what_to_fields_writes(redis, keys):
    """Committed and rejected events through the server-side script, one with a trace id."""
    now = time.time()
    agent = {"place": "square", "action_seq": 3, "commit_seq": 2, "last_tick": 2}
    agent["last_rejection"] = None
    obj = {"place": "square", "resource": 1.5, "uses": 1, "last_user": "alice"}
    obj.update(users_tick=2, users=["alice"])
    expected = []
    args: list = ["world_state_committed", "2", repr(now), "1"]
    for n, trace_id in enumerate([None, "trace-7", ""]):
        original = event(Interact(object_id="well"), trace_id, sequence=3 + n)
        item = Staged.of(original)
        before = {"agent:alice": {**agent, "commit_seq": 1}, "object:well": obj}
        after = {"agent:alice": agent, "object:well": obj}
        payload = {
            "action_event_id": item.event_id,
            "action": item.action,
            "before": before,
            "after": after,
            "observers": ["bob", "carol"],
        }
        trace = "" if trace_id is None else "+" + trace_id
        event_id = uuid5_url("commit:" + item.event_id)
        args += [event_id, "alice", "2", orjson.dumps(payload), trace]
        expected.append(
            committed(
                "alice",
                2,
                2,
                original.payload.action,
                before=before,
                after=after,
                observers=["bob", "carol"],
                action_event_id=original.event_id,
                trace_id=trace_id,
                timestamp=now,
            )
        )
    await redis.eval(_XADD_EVENTS_LUA, 1, keys.committed_events, *args)
    rejected = Staged.of(event(Idle(), "trace-8"))
    verdict = Rejected(RejectReason.LATE, "tick 2 is closed")
    payload = rejected_payload(rejected, verdict)
    reject_id = uuid5_url("reject:" + rejected.event_id)
    args = [
        "world_state_rejected",
        "2",
        repr(now),
        "1",
        reject_id,
        "alice",
        "3",
        payload,
        "+trace-8",
    ]
    await redis.eval(_XADD_EVENTS_LUA, 1, keys.rejected_events, *args)

    stored = [f for _, f in await redis.xrange(keys.committed_events)]
    assert [parse_event(f) for f in stored] == expected
    assert [list(f) for f in stored] == [list(e.to_fields()) for e in expected]  # same order
    (fields,) = [f for _, f in await redis.xrange(keys.rejected_events)]
    back = parse_event(fields)
    assert isinstance(back, WorldStateRejectedEvent)
    assert (back.trace_id, back.payload.reason, back.payload.action) == (
        "trace-8",
        RejectReason.LATE,
        Idle(),
    )


def tiny_world() -> Scenario:
    """Home and square in perception range; the far field 95 from the square: too far to go."""
    return scenario(
        "encoding",
        [
            place("home", "Home", 0, neighbors=["square"]),
            place("square", "Square", 5),
            place("far", "Far", 100, neighbors=["square"]),
        ],
        [
            {"id": "alice", "name": "Alice", "place": "home"},
            {"id": "bob", "name": "Bob", "place": "square"},
            {"id": "carol", "name": "Carol", "place": "home"},
        ],
        world={"max_move_distance": 50},
        simulation={"tick_deadline_s": 30, "hearing_range": 8, "perception_range": 8},
    )


async def test_trace_ids_survive_commit_and_both_kinds_of_rejection(redis, keys, settings):
    await save_scenario(redis, keys, tiny_world())
    await redis.zadd(keys.agents_alive, dict.fromkeys(["alice", "bob"], time.time() + 120))
    async with running_world(settings):
        await wait_for(lambda: tick_open(redis, keys, 1), timeout_s=30)
        # carol's first: read (and rejected) no later than the actions that close tick 1
        sent = [
            action("carol", 1, 9, Idle(), trace_id="t-carol"),
            action("alice", 1, 1, Move(to="square"), trace_id="t-alice"),
            action("bob", 1, 1, Move(to="far"), trace_id="t-bob"),  # 95 away: too far
        ]
        for one in sent:
            await redis.xadd(keys.action_events, one.to_fields())
        await wait_for(lambda: closed(redis, keys, 1), timeout_s=30)
    committed = [parse_event(f) for _, f in await redis.xrange(keys.committed_events)]
    rejected = [parse_event(f) for _, f in await redis.xrange(keys.rejected_events)]
    commit = next(e for e in committed if e.type == "world_state_committed")
    assert (commit.entity_id, commit.sequence, commit.trace_id) == ("alice", 1, "t-alice")
    assert commit.payload.action_event_id == sent[1].event_id
    assert commit.event_id == uuid.uuid5(uuid.NAMESPACE_URL, f"commit:{sent[1].event_id}")
    assert commit.payload.before["agent:alice"]["place"] == "home"
    assert commit.payload.after["agent:alice"]["place"] == "square"
    assert commit.payload.observers == ["bob", "carol"]
    assert sorted((e.entity_id, e.trace_id, e.payload.reason.value) for e in rejected) == [
        ("bob", "t-bob", "too_far"),
        ("carol", "t-carol", "early"),
    ]
    states = {k: json.loads(v) for k, v in (await redis.hgetall(keys.agents_state)).items()}
    assert states["alice"] == commit.payload.after["agent:alice"]
    assert states["bob"]["last_rejection"]["reason"] == "too_far"
