"""SIGKILL every kind of process at random moments of a real run; nothing is lost or doubled.

World system, memory consolidator, analytics, API server, spawner and agent workers are
killed at random ticks while ``scenarios/default.yml`` runs; the launcher's supervisor
(and, for workers, the spawner) restarts them. Afterwards: every published action has
exactly one outcome, per-agent commit sequences have no gap, the consumers applied each
event once, and the graph the restarted API serves equals a brute-force recomputation
of the committed log (``tests/analytics/naive.py``).

Size: ``SCRAI_CHAOS_ACTIONS`` (default 2,000) and ``SCRAI_CHAOS_KILLS`` per kind
(default 2). The full run (see README, "Proof under faults")::

    SCRAI_CHAOS_ACTIONS=10000 SCRAI_CHAOS_KILLS=6 SCRAI_CHAOS_REDIS_ROUNDS=20 \
        python -m pytest -m chaos tests/chaos
"""

from __future__ import annotations

import random
import time

import pytest

from scrai.scenario.store import save_scenario
from tests.analytics.naive import assert_graph_equals_naive, recompute
from tests.chaos.pipeline import (
    Pipeline,
    chaos_scenario,
    check_log,
    check_memory,
    last_closed,
    size,
)
from tests.helpers import wait_for

ACTIONS = size("ACTIONS", 2_000)
KILLS = size("KILLS", 2)
KINDS = ("world", "memory", "analytics", "spawner", "worker", "api")

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.timeout(240 + ACTIONS // 20)
async def test_every_process_killed_at_random_nothing_lost_nor_doubled(
    redis, keys, settings, tmp_path
) -> None:
    scenario = chaos_scenario(ACTIONS)
    ticks = scenario.simulation.max_ticks
    assert ticks is not None
    await save_scenario(redis, keys, scenario)
    rng = random.Random(f"chaos:{ACTIONS}:{KILLS}")
    # Each kind is killed KILLS times, at random ticks of the run's middle 90 %.
    schedule = sorted(
        (rng.randint(max(2, ticks // 20), ticks - ticks // 20), kind)
        for kind in KINDS
        for _ in range(KILLS)
    )
    pipeline = Pipeline(settings.redis_url or "", keys.namespace, tmp_path / "run")
    started = time.monotonic()

    async def due(tick: int, kind: str) -> bool:
        pipeline.poll()
        return await last_closed(redis, keys) >= tick and pipeline.running(kind)

    async with pipeline.started():
        for tick, kind in schedule:
            await wait_for(lambda t=tick, k=kind: due(t, k), timeout_s=120, interval_s=0.02)
            assert pipeline.kill(kind, rng) is not None

        await pipeline.wait_done(redis)
        # The API may have been the last one killed: wait for its restart to answer.
        served = await wait_for(lambda: _graph(pipeline), timeout_s=60, interval_s=0.1)
        elapsed = time.monotonic() - started

    facts = await check_log(redis, keys, scenario)
    assert facts.ticks == ticks
    assert facts.commits + facts.rejections >= ACTIONS, (
        "fewer actions than the run's size; longest absences in ticks: "
        f"{facts.longest_absences([a.id for a in scenario.agents])}"
    )
    memories = await check_memory(redis, keys, scenario, ticks)
    assert pipeline.kills == dict.fromkeys(KINDS, KILLS), pipeline.kills

    expected = recompute(scenario, facts.log)
    assert expected["edges"], "no ties formed: the comparison would prove nothing"
    assert_graph_equals_naive(served, expected)
    meta = await redis.hgetall(keys.analytics("meta"))
    assert int(meta["events"]) == len(facts.log), "analytics applied an event twice or missed one"
    assert pipeline.leftovers() == []

    print(
        f"\nchaos: {facts.actions} actions ({facts.commits} committed, {facts.rejections} "
        f"rejected) over {facts.ticks} ticks in {elapsed:.1f}s; kills {dict(pipeline.kills)}; "
        f"restarts seen {sum('restarted' in s for s in pipeline.said)}; "
        f"{len(expected['edges'])} ties equal to brute force; {memories} memories kept"
    )


async def _graph(pipeline: Pipeline) -> dict | None:
    pipeline.poll()
    try:
        return await pipeline.served_graph()
    except Exception:  # refused while the API restarts
        return None
