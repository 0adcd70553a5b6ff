"""Fuzzed event payloads: parse_event and a running consumer give EventErrors or dead letters only.

``tests/test_events.py`` fuzzes the envelope fields (a few hundred cases, to stay quick);
here the JSON payloads are fuzzed too — valid events with parts of their payload
replaced, deleted or nested deep, arbitrary JSON, oversized and odd numbers — for all
four event types, first straight through :func:`parse_event`, then as raw entries on a
stream read by the real memory consolidator's consumer.

``SCRAI_FUZZ_EXAMPLES`` sets the number of cases of the parse test (default 300; the
full run uses 10,000); the consumer test runs a tenth as many batches of up to 25 entries.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrai.events import EventError, Idle, Interact, Move, RejectReason, Speak, parse_event
from scrai.keys import Keys
from scrai.memory.consolidator import MemoryConsolidator
from tests.events_factory import action, committed, rejected, tick_event
from tests.scenarios import village

EXAMPLES = int(os.environ.get("SCRAI_FUZZ_EXAMPLES", "300"))
REASONS = {"malformed", "unknown_type", "unsupported_schema_version"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from(
    [Move(to="square"), Speak(to=None, text="hello"), Speak(to="bob", text="hi"),
     Interact(object_id="well", verb="drink"), Idle(reason="tired")]
)  # fmt: skip


def _events(act: Any, seq: int) -> list[Any]:
    home = {"agent:alice": {"place": "home"}}
    return [
        action("alice", seq, seq, act),
        committed("alice", seq, seq, act, before=home, observers=["bob"]),
        rejected("alice", seq, seq, act, RejectReason.TOO_FAR, "far"),
        tick_event(seq),
    ]


valid_fields = st.builds(_events, actions, st.integers(min_value=1, max_value=10**6)).flatmap(
    lambda evs: st.sampled_from([e.to_fields() for e in evs])
)


def _mutate(fields: dict[str, str], rng: random.Random, value: Any, how: str) -> dict[str, str]:
    """Replace, delete or add one node somewhere in the payload's JSON tree."""
    payload = json.loads(fields["payload"])
    node = payload
    while isinstance(node, dict) and node and rng.random() < 0.6:
        key = rng.choice(sorted(node))
        if not isinstance(node[key], dict) or not node[key]:
            break
        node = node[key]
    if isinstance(node, dict):
        key = rng.choice(sorted(node)) if node and how != "add" else f"k{rng.randint(0, 9)}"
        if how == "delete":
            node.pop(key, None)
        else:
            node[key] = value
    return {**fields, "payload": json.dumps(payload)}


mutated = st.builds(
    _mutate, valid_fields, st.randoms(use_true_random=False), json_values,
    st.sampled_from(["replace", "delete", "add"]),
)  # fmt: skip
raw_payloads = st.builds(
    lambda fields, payload: {**fields, "payload": payload},
    valid_fields,
    json_values.map(json.dumps)
    | st.text(max_size=60)
    | st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)
    | st.integers(min_value=1, max_value=3000).map(lambda n: '{"a":' * n + "1" + "}" * n)
    | st.sampled_from(["1e999", "-0", "NaN", "null", '"\\ud800"', '{"action": {"kind": "move"}}']),
)
envelope_noise = st.builds(
    lambda fields, key, value: {**fields, key: value},
    valid_fields,
    st.sampled_from(["event_id", "sequence", "tick", "timestamp", "schema_version", "entity_id"]),
    st.sampled_from(["", "-1", "1e400", "nan", "inf", "9" * 40, "0x10", "00000000-0000"])
    | st.text(max_size=20),
)
entries = st.one_of(valid_fields, mutated, raw_payloads, envelope_noise)


def check(fields: dict[str, str]) -> str:
    """``ok`` or the EventError's reason; anything else raised fails the test."""
    try:
        event = parse_event(fields)
    except EventError as exc:
        assert exc.reason in REASONS and str(exc), exc
        return exc.reason
    fields_out = event.to_fields()  # what reads, writes back the same
    assert parse_event(fields_out).to_fields() == fields_out
    return "ok"


@pytest.mark.timeout(max(120, EXAMPLES // 5))
@settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip
@given(entries)
def test_parse_event_fuzzed_payloads_raise_only_event_errors(fields: dict[str, str]) -> None:
    check(fields)


def test_deep_and_huge_payloads_are_clear_errors() -> None:
    base = _events(Idle(), 1)[1].to_fields()
    for payload in ("[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "x" * 5_000_000):
        assert check({**base, "payload": payload}) == "malformed"


@pytest.mark.parametrize("stamp", ["nan", "inf", "-inf"])
def test_non_finite_timestamps_are_malformed(stamp: str) -> None:
    assert check({**_events(Idle(), 1)[0].to_fields(), "timestamp": stamp}) == "malformed"


@pytest.mark.timeout(600)
@settings(
    max_examples=max(10, EXAMPLES // 10), deadline=None, database=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
@given(st.lists(entries, min_size=1, max_size=25))
async def test_a_running_consumer_dead_letters_what_it_cannot_read(
    redis, keys, settings, batch: list[dict[str, str]]
) -> None:
    # A namespace of its own per example (the fixtures are shared by the examples).
    own = Keys(f"{keys.namespace}-{uuid.uuid4().hex[:8]}")
    stream = own.committed_events
    ids = [await redis.xadd(stream, fields) for fields in batch]
    expected = {i: check(fields) for i, fields in zip(ids, batch, strict=True)}
    consolidator = MemoryConsolidator(redis, own, village(), settings=settings)
    stats = await asyncio.wait_for(consolidator.run(burst=True), 60)

    dead = {f["source_id"]: f for _, f in await redis.xrange(own.dead_letter(stream))}
    for stream_id, outcome in expected.items():
        if outcome == "ok":
            assert dead.get(stream_id, {}).get("reason") in (None, "handler_failed")
        else:
            assert dead[stream_id]["reason"] == outcome, dead.get(stream_id)
    assert (await redis.xpending(stream, "memory"))["pending"] == 0
    assert stats.handled + stats.duplicates + stats.dead_lettered >= len(batch)
