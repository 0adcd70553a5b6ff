"""Garbage and poison in every real service's input: dead-lettered with a reason, the run goes on.

The whole pipeline runs (``tests/chaos/pipeline.py``); mid-run the test appends to
each stream a service reads: entries that are not events (no type, an unknown type,
broken JSON, a schema from the future, a bad UUID, an oversized payload); events that
parse but no handler can apply are in ``test_poison.py``. Each group that reads the
stream must move each of them to ``<stream>:dead_letter`` with a reason, no
process may die, the run must reach its last tick, the API must keep serving the
log, and the served graph must still equal the brute-force fold of the real events.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

import httpx
import pytest

from scrai.events import ActionEvent, ActionPayload, Idle
from scrai.scenario.store import save_scenario
from tests.analytics.naive import assert_graph_equals_naive, recompute
from tests.chaos.pipeline import (
    Pipeline,
    chaos_scenario,
    check_log,
    last_closed,
)
from tests.helpers import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

GOOD = ActionEvent(entity_id="x", sequence=1, tick=1, payload=ActionPayload(action=Idle()))


def garbage(kind: str) -> list[tuple[dict[str, str], str]]:
    """(fields, the dead-letter reason expected) of entries that are not readable events."""
    fields = {**GOOD.to_fields(), "type": kind, "event_id": str(uuid.uuid4())}
    return [
        ({"junk": "1"}, "unknown_type"),
        ({**fields, "type": "gossip"}, "unknown_type"),
        ({**fields, "payload": "{not json"}, "malformed"),
        ({**fields, "payload": json.dumps({"zzz": 1})}, "malformed"),
        ({**fields, "schema_version": "99"}, "unsupported_schema_version"),
        ({**fields, "schema_version": "one"}, "malformed"),
        ({**fields, "event_id": "not-a-uuid"}, "malformed"),
        ({**fields, "sequence": "-3"}, "malformed"),
        ({**fields, "payload": "x" * 200_000}, "malformed"),
    ]


@pytest.mark.timeout(240)
async def test_garbage_and_poison_are_dead_lettered_and_the_run_goes_on(
    redis, keys, settings, tmp_path
) -> None:
    scenario = chaos_scenario(600, deadline_s=1.0)
    ticks = scenario.simulation.max_ticks
    await save_scenario(redis, keys, scenario)
    pipeline = Pipeline(settings.redis_url or "", keys.namespace, tmp_path / "run")
    readers = {
        keys.action_events: ["world"],
        keys.committed_events: ["memory", "analytics"],
        keys.rejected_events: ["analytics"],
    }
    expected: dict[str, dict[str, str]] = defaultdict(dict)  # stream -> id -> reason

    async def at(tick: int) -> bool:
        pipeline.poll()
        return await last_closed(redis, keys) >= tick

    async with pipeline.started():
        for when in (5, ticks // 2):
            await wait_for(lambda w=when: at(w), timeout_s=90, interval_s=0.02)
            for stream in readers:
                for fields, reason in garbage(
                    "action" if stream == keys.action_events else "world_state_committed"
                ):
                    expected[stream][await redis.xadd(stream, fields)] = reason

        await pipeline.wait_done(redis)
        served = await pipeline.served_graph()
        async with httpx.AsyncClient(base_url=pipeline.api_url, timeout=30) as http:
            page = await http.get("/api/events", params={"limit": 1000})
            assert page.status_code == 200, page.text
            health = await http.get("/healthz")
            assert health.status_code == 200
        # Exit 0 is a finished run (the world stops at max_ticks); a crash exits non-zero.
        died = {
            c.name: c.history
            for c in pipeline.supervisor.children.values()
            if any(code != 0 for code in c.history)
        }
        assert not died, f"bad input killed a process: {died}"

    found: dict[tuple[str, str, str], dict[str, str]] = {}
    for stream in readers:
        for _, entry in await redis.xrange(keys.dead_letter(stream)):
            found[(stream, entry["group"], entry["source_id"])] = entry
    for stream, groups in readers.items():
        for stream_id, reason in expected[stream].items():
            for group in groups:
                entry = found.get((stream, group, stream_id))
                assert entry is not None, f"{group} did not dead-letter {stream_id} of {stream}"
                assert entry["reason"] == reason, (entry["reason"], reason, entry["message"])
                assert entry["message"], "a dead letter without a message"
    print(f"\ndead letters: {len(found)} (every group, every bad entry, with its reason)")

    skip = {stream: set(ids) for stream, ids in expected.items()}
    facts = await check_log(redis, keys, scenario, skip)
    assert facts.ticks == ticks
    assert_graph_equals_naive(served, recompute(scenario, facts.log))
