"""Whole runs of scenarios/default.yml: agent workers and the world system, real Redis."""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations

import pytest

from scrai.connection import connect
from scrai.keys import Keys
from scrai.settings import Settings
from tests.agents import sim

TICKS = 60


def _env(base: dict[str, str], namespace: str) -> dict[str, str]:
    return {**base, "SCRAI_NAMESPACE": namespace}


async def _run_in(
    settings: Settings,
    env: dict[str, str],
    namespace: str,
    groups: list[list[str]],
    *,
    memory: bool = False,
):
    keys = Keys(namespace)
    client = connect(settings.model_copy(update={"namespace": namespace}))
    try:
        log = await sim.run(
            client, keys, _env(env, namespace), sim.default_scenario(TICKS), groups, memory=memory
        )
        minds = {a: await client.hgetall(keys.agent_mind(a)) for a in ids()}
        minds["rejected"] = {"count": await client.xlen(keys.rejected_events)}
        minds["reflections"] = {
            a: sum('"kind":"reflection"' in m for m in await client.zrange(keys.memories(a), 0, -1))
            for a in ids()
        }
        return log, minds
    finally:
        await client.aclose()


def ids() -> list[str]:
    return [a.id for a in sim.default_scenario(1).agents]


@pytest.mark.slow
async def test_same_seed_same_log_whatever_the_process_split(settings, namespace, subprocess_env):
    everyone = ids()
    one, minds = await _run_in(settings, subprocess_env, f"{namespace}a", [everyone])
    again, _ = await _run_in(settings, subprocess_env, f"{namespace}b", [everyone])
    # Three workers, and memories recalled while they run: the log must not change.
    thirds = [everyone[0::3], everyone[1::3], everyone[2::3]]
    split, remembering = await _run_in(
        settings, subprocess_env, f"{namespace}c", thirds, memory=True
    )
    rejected = minds.pop("rejected")["count"]
    minds.pop("reflections")
    assert len(one) + rejected == TICKS * len(everyone)  # every agent acted every tick
    assert rejected < len(one) / 10
    assert one == again
    assert one == split
    kinds = Counter(e["action"]["kind"] for e in one)
    assert kinds["speak"] and kinds["move"] and kinds["interact"] and kinds["idle"]
    for agent in everyone:  # per-agent sequences are gapless
        seqs = [e["sequence"] for e in one if e["entity_id"] == agent]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > TICKS * 0.8

    # Goals stated in the scenario are reached within the run, and the log shows how.
    reached = {
        a: [g for g in json.loads(m["goals"]) if g["status"] == "achieved"]
        for a, m in minds.items()
    }
    assert sum(len(g) for g in reached.values()) >= 3
    pavel_visit = next(g for g in reached["pavel"] if g["kind"] == "visit")
    tick = pavel_visit["achieved_at"]
    assert any(
        e["entity_id"] == "pavel"
        and e["after"]["agent:pavel"]["place"] == "hall"
        and e["tick"] < tick
        for e in one
    )

    # With the consolidator running, agents recalled its memories and wrote reflections.
    assert sum(remembering.pop("reflections").values()) > 0
    recalled = [
        json.loads(m["last_decision"])["trace"]["memories"]
        for a, m in remembering.items()
        if a in everyone
    ]
    assert sum(1 for texts in recalled if texts) >= len(everyone) // 2  # from the memory store

    # Every decision left its trace for the dashboard.
    decision = json.loads(minds["lena"]["last_decision"])
    assert decision["tick"] == TICKS and decision["brain"] == "rule"
    assert {"needs", "plan_step", "memories", "options"} <= set(decision["trace"])


@pytest.mark.slow
async def test_ties_in_the_scenario_become_conversations(settings, namespace, subprocess_env):
    log, minds = await _run_in(settings, subprocess_env, namespace, [ids()])
    minds.pop("rejected")
    minds.pop("reflections")
    scenario = sim.default_scenario(1)
    positive = {
        frozenset((a.id, r.target))
        for a in scenario.agents
        for r in a.relationships
        if r.strength > 0.3
    }
    known = {frozenset((a.id, r.target)) for a in scenario.agents for r in a.relationships}
    talks: Counter[frozenset[str]] = Counter()
    for e in log:
        if e["action"]["kind"] == "speak" and e["action"].get("to"):
            talks[frozenset((e["entity_id"], e["action"]["to"]))] += 1
    pairs = [frozenset(p) for p in combinations(ids(), 2)]
    friends = [talks[p] for p in pairs if p in positive]
    strangers = [talks[p] for p in pairs if p not in known]
    assert sum(friends) / len(friends) > 2 * sum(strangers) / len(strangers)
    # Affinity moved with experience: talk warmed some ties beyond where the scenario set them.
    start = {(a.id, r.target): r.strength for a in scenario.agents for r in a.relationships}
    now = {(a, b): v for a, m in minds.items() for b, v in json.loads(m["relationships"]).items()}
    assert any(now[k] > v + 0.05 for k, v in start.items() if k in now)
    assert any(k not in start and v > 0.05 for k, v in now.items())  # new acquaintances formed
    # ... and others faded or soured.
    assert any(now[k] < v - 0.05 for k, v in start.items() if k in now)
