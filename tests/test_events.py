"""Events: round trip to stream fields, and typed errors for entries that are not events."""

from __future__ import annotations

import gc
import json
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrai.events import (
    SCHEMA_VERSION,
    ActionEvent,
    ActionPayload,
    CommittedPayload,
    EventError,
    Idle,
    Interact,
    MalformedEvent,
    Move,
    RejectedPayload,
    RejectReason,
    Speak,
    TickEvent,
    TickPayload,
    UnknownEventType,
    UnsupportedSchemaVersion,
    WorldStateCommittedEvent,
    WorldStateRejectedEvent,
    parse_event,
)

ACTION = Move(to="square")


def sample_events() -> list:
    action_id = uuid.uuid4()
    return [
        ActionEvent(entity_id="alice", sequence=1, tick=1, payload=ActionPayload(action=ACTION)),
        ActionEvent(
            entity_id="bob",
            sequence=2,
            tick=1,
            trace_id="t-1",
            payload=ActionPayload(action=Speak(to="alice", text="hi")),
        ),
        WorldStateCommittedEvent(
            entity_id="alice",
            sequence=1,
            tick=1,
            payload=CommittedPayload(
                action_event_id=action_id,
                action=Interact(object_id="well"),
                before={"agent:alice": {"place": "home"}, "object:well": {"uses": 0}},
                after={"agent:alice": {"place": "home"}, "object:well": {"uses": 1}},
                observers=["bob"],
            ),
        ),
        WorldStateRejectedEvent(
            entity_id="alice",
            sequence=2,
            tick=2,
            payload=RejectedPayload(
                action_event_id=action_id,
                action=Idle(),
                reason=RejectReason.LATE,
                message="tick 2 closed",
            ),
        ),
        TickEvent(entity_id="world", sequence=3, tick=3, payload=TickPayload(state="running")),
    ]


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: e.type.value)
def test_every_type_round_trips(event) -> None:
    fields = event.to_fields()
    assert all(isinstance(v, str) for v in fields.values())
    back = parse_event(fields)
    assert type(back) is type(event)
    assert back == event


def valid_fields() -> dict[str, str]:
    return sample_events()[0].to_fields()


def test_unknown_type_is_a_typed_error() -> None:
    fields = valid_fields() | {"type": "teleport"}
    with pytest.raises(UnknownEventType) as err:
        parse_event(fields)
    assert err.value.reason == "unknown_type" and "teleport" in str(err.value)
    with pytest.raises(UnknownEventType):
        parse_event({"payload": "{}"})  # no type at all


def test_newer_schema_version_is_a_typed_error() -> None:
    fields = valid_fields() | {"schema_version": str(SCHEMA_VERSION + 1)}
    with pytest.raises(UnsupportedSchemaVersion) as err:
        parse_event(fields)
    assert err.value.reason == "unsupported_schema_version"


@pytest.mark.parametrize(
    "change",
    [
        {"payload": "{not json"},
        {"payload": json.dumps({"action": {"kind": "fly"}})},
        {"payload": json.dumps({"action": {"kind": "move"}})},  # lacks "to"
        {"payload": json.dumps([1, 2])},
        {"event_id": "not-a-uuid"},
        {"sequence": "-1"},
        {"tick": "soon"},
        {"schema_version": "v2"},
        {"entity_id": ""},
    ],
)
def test_broken_entries_are_malformed_errors(change: dict[str, str]) -> None:
    with pytest.raises(MalformedEvent) as err:
        parse_event(valid_fields() | change)
    assert err.value.reason == "malformed"


def test_missing_envelope_field_names_it() -> None:
    fields = valid_fields()
    del fields["tick"]
    with pytest.raises(MalformedEvent, match="tick"):
        parse_event(fields)


def test_extra_stream_fields_are_tolerated() -> None:
    # A newer writer may add envelope fields; readers of this version ignore them.
    event = sample_events()[0]
    assert parse_event(event.to_fields() | {"origin": "elsewhere"}) == event


# -- properties ------------------------------------------------------------------------

ENTRY_FIELDS = (
    "event_id type entity_id sequence tick timestamp schema_version payload trace_id x".split()
)
ids = st.text(min_size=1, max_size=40)
actions = st.one_of(
    st.builds(Move, to=ids),
    st.builds(Speak, to=st.none() | ids, text=st.text(min_size=1, max_size=200)),
    st.builds(Interact, object_id=ids, verb=st.text(min_size=1, max_size=20)),
    st.builds(Idle, reason=st.text(max_size=50)),
)
action_events = st.builds(
    ActionEvent,
    event_id=st.uuids(),
    entity_id=ids,
    sequence=st.integers(min_value=0, max_value=2**62),
    tick=st.integers(min_value=0, max_value=2**62),
    timestamp=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    trace_id=st.none() | st.text(max_size=30),
    payload=st.builds(ActionPayload, action=actions),
)


@given(action_events)
@settings(max_examples=100, deadline=None)
def test_any_action_event_round_trips(event: ActionEvent) -> None:
    assert parse_event(event.to_fields()) == event


@given(
    st.dictionaries(
        st.sampled_from(ENTRY_FIELDS),
        st.text(max_size=30) | st.sampled_from(["action", "tick", "1", "{}", '{"action":{}}']),
    )
)
@settings(max_examples=150, deadline=None)
def test_arbitrary_fields_never_crash(fields: dict[str, str]) -> None:
    try:
        parse_event(fields)
    except EventError as exc:
        assert exc.reason in {"malformed", "unknown_type", "unsupported_schema_version"}


async def test_round_trip_through_a_real_stream(redis, keys) -> None:
    events = sample_events()
    for event in events:
        await redis.xadd(keys.committed_events, event.to_fields())
    entries = await redis.xrange(keys.committed_events)
    assert [parse_event(fields) for _, fields in entries] == events


# The one-pass readers must accept, refuse and build exactly what the plain way does.
committed_events = st.builds(
    WorldStateCommittedEvent,
    entity_id=ids,
    sequence=st.integers(min_value=0, max_value=10**9),
    tick=st.integers(min_value=0, max_value=10**9),
    payload=st.builds(
        CommittedPayload,
        action_event_id=st.uuids(),
        action=actions,
        before=st.dictionaries(ids, st.dictionaries(ids, st.integers() | st.text(max_size=5))),
        after=st.dictionaries(ids, st.dictionaries(ids, st.booleans() | st.none())),
        observers=st.lists(ids, max_size=5),
    ),
)
field_noise = st.dictionaries(
    st.sampled_from(ENTRY_FIELDS),
    st.sampled_from(["", "-1", "007", " 5", "1_0", "1e400", "nan", "x", "{}", "[]", "null"])
    | st.text(max_size=12),
    max_size=3,
)


@given(st.one_of(action_events, committed_events), field_noise)
@settings(max_examples=100, deadline=None)
def test_one_pass_reader_matches_field_by_field(event, noise: dict[str, str]) -> None:
    from scrai.events import _field_by_field

    fields = event.to_fields() | noise
    kind, cls = event.type.value, type(event)
    try:
        expected = _field_by_field(cls, kind, fields)
    except EventError:
        expected = None
    try:
        got = parse_event(fields)
    except UnknownEventType:
        assert "type" in noise
        return
    except EventError:
        got = None
    if "type" in noise or "schema_version" in noise:
        return  # another type or version: checked by the tests above
    assert (got is None) == (expected is None), (got, expected)
    if got is not None:
        assert type(got) is cls and got == expected
        assert got.model_dump() == expected.model_dump()


def test_one_pass_readers_are_in_use() -> None:
    from scrai import events

    assert set(events._ENTRY_READERS) == set(events.EVENT_CLASSES)


@given(st.lists(st.tuples(st.one_of(action_events, committed_events), field_noise), max_size=6))
@settings(max_examples=60, deadline=None)
def test_batch_reader_matches_one_by_one(items) -> None:
    """parse_events gives each entry what parse_event gives it, in any mix of good and bad."""
    from scrai.events import parse_events

    entries = [event.to_fields() | noise for event, noise in items]
    expected: list = []
    for fields in entries:
        try:
            expected.append(parse_event(fields))
        except EventError as exc:
            expected.append((type(exc), str(exc)))
    got = [(type(r), str(r)) if isinstance(r, EventError) else r for r in parse_events(entries)]
    assert got == expected
    for g, e in zip(got, expected, strict=True):
        if not isinstance(e, tuple):
            assert type(g) is type(e) and g.model_fields_set == e.model_fields_set


def test_batch_reader_is_in_use() -> None:
    from scrai import events

    assert events._BATCH_READER is not None


def test_a_parsed_batch_once_dropped_leaves_nothing_behind() -> None:
    """A long-lived consumer's memory stays flat only if each batch's objects go with it.

    Lines of speech are the strings most often new; whatever parsing kept of them would
    outlive the batch and pin the allocator's arenas (the RSS then creeps up).
    """
    from scrai.events import parse_events

    def speech(n: int) -> list[dict[str, str]]:
        return [
            WorldStateCommittedEvent(entity_id="alice", sequence=i + 1, tick=i, payload=(
                CommittedPayload(action_event_id=uuid.uuid4(), action=Speak(
                    text=f"Line {n}-{i}: see you at the well", to="bob"),
                    before={}, after={}, observers=["bob"]))
            ).to_fields()
            for i in range(2_000)
        ]  # fmt: skip

    parse_events(speech(0))  # whatever is made once, on first use
    batch = speech(1)
    gc.collect()
    before = sys.getallocatedblocks()
    parsed = parse_events(batch)
    assert len(parsed) == len(batch)
    del parsed
    gc.collect()
    assert sys.getallocatedblocks() - before < 100


def test_batch_reader_gives_each_bad_entry_its_own_error() -> None:
    from scrai.events import parse_events

    good = [event.to_fields() for event in sample_events()]
    newer = good[0] | {"schema_version": str(SCHEMA_VERSION + 1)}
    older = good[1] | {"schema_version": "0"}
    unknown = good[0] | {"type": "teleport"}
    untyped = {k: v for k, v in good[0].items() if k != "type"}
    broken = good[2] | {"payload": "{"}
    results = parse_events([*good, newer, older, unknown, untyped, broken])
    assert results[: len(good)] == sample_events_from(good)
    assert isinstance(results[len(good)], UnsupportedSchemaVersion)
    assert results[len(good) + 1] == parse_event(older)
    assert [type(r) for r in results[len(good) + 2 :]] == [
        UnknownEventType,
        UnknownEventType,
        MalformedEvent,
    ]
    assert parse_events(good) == sample_events_from(good)
    assert parse_events([]) == []


def sample_events_from(entries: list[dict[str, str]]) -> list:
    return [parse_event(fields) for fields in entries]
