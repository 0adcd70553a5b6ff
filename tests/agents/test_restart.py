"""A worker killed mid-run and restarted carries on: no gap, no duplicate, same mind."""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict

import pytest

from scrai.keys import Keys
from scrai.scenario.store import save_scenario
from scrai.world.clock import request
from tests.agents import sim
from tests.helpers import wait_for


async def _closed(redis, keys: Keys) -> int:
    return int(await redis.hget(keys.clock, "last_closed") or 0)


@pytest.mark.slow
@pytest.mark.chaos
async def test_worker_killed_and_restarted_resumes_without_gap_or_duplicate(
    redis, keys, subprocess_env
):
    scenario = sim.default_scenario(70, deadline_s=1.0)
    await save_scenario(redis, keys, scenario)
    others = [a.id for a in scenario.agents if a.id != "mara"]
    crowd = sim.start_worker(subprocess_env, others)
    victim = sim.start_worker(subprocess_env, ["mara"])
    world = restarted = None
    try:
        await wait_for(lambda: sim.alive(redis, keys, len(scenario.agents)), timeout_s=60)
        world = sim.start_world(subprocess_env)
        await wait_for(lambda: _at_least(redis, keys, 20), timeout_s=60, interval_s=0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = await _closed(redis, keys)
        await wait_for(lambda: _at_least(redis, keys, killed_at + 3), timeout_s=60)
        # Hold the clock while the worker comes back, so a loaded machine cannot reach the
        # last tick before it does; the tick open now still closes, on its deadline.
        await request(redis, keys, state="paused")
        started = time.time()
        restarted = sim.start_worker(subprocess_env, ["mara"], capture=True)
        await wait_for(lambda: _beating_since(redis, keys, started), timeout_s=60, interval_s=0.05)
        resumed_at = await _closed(redis, keys)
        await request(redis, keys, state="running")
        await wait_for(lambda: sim.finished(redis, keys), timeout_s=110, interval_s=0.05)
    finally:
        sim.stop(crowd, *(p for p in (world,) if p))
        if restarted:
            restarted.terminate()
            _, err = restarted.communicate(timeout=30)
    assert "(1 restored)" in err

    log = await sim.committed(redis, keys)
    mara = [e for e in log if e["entity_id"] == "mara"]
    assert [e["sequence"] for e in mara] == list(range(1, len(mara) + 1))  # no gap
    ticks = [e["tick"] for e in mara]
    assert len(ticks) == len(set(ticks))  # one action per tick, never two
    assert max(ticks) > resumed_at + 5  # and it went on after the restart

    ids_by_sequence: dict[int, set[str]] = defaultdict(set)
    for _, fields in await redis.xrange(keys.action_events):
        if fields["entity_id"] == "mara":
            ids_by_sequence[int(fields["sequence"])].add(fields["event_id"])
    assert all(len(ids) == 1 for ids in ids_by_sequence.values())  # a re-sent action keeps its id
    rejected = [
        json.loads(f["payload"])["reason"]
        for _, f in await redis.xrange(keys.rejected_events)
        if f["entity_id"] == "mara"
    ]
    assert "out_of_sequence" not in rejected and "already_acted" not in rejected


async def _beating_since(redis, keys: Keys, since: float) -> bool:
    """The restarted worker is up: its heartbeat is newer than its start."""
    raw = await redis.get(keys.health("worker-mara"))
    return raw is not None and json.loads(raw)["at"] > since


async def _at_least(redis, keys: Keys, tick: int) -> bool:
    return await _closed(redis, keys) >= tick


@pytest.mark.slow
async def test_a_running_worker_follows_the_world_into_a_new_run(redis, keys, subprocess_env):
    first = sim.default_scenario(8)
    await save_scenario(redis, keys, first)
    everyone = [a.id for a in first.agents]
    worker = sim.start_worker(subprocess_env, everyone)
    try:
        await wait_for(lambda: sim.alive(redis, keys, len(everyone)), timeout_s=60)
        world = sim.start_world(subprocess_env)
        await wait_for(lambda: sim.finished(redis, keys), timeout_s=60)
        sim.stop(world)
        old_run = await redis.hget(keys.world_meta, "run_id")
        boundary = (await redis.xrevrange(keys.committed_events, count=1))[0][0]
        await save_scenario(redis, keys, sim.default_scenario(6))
        world = sim.start_reseeded_world(subprocess_env)
        await wait_for(lambda: _new_run_finished(redis, keys, old_run), timeout_s=60)
        sim.stop(world)
    finally:
        assert sim.stop(worker) == [0]
    fresh = [
        f
        for _, f in await redis.xrange(keys.committed_events, f"({boundary}", "+")
        if f["type"] == "world_state_committed"
    ]
    for agent in everyone:  # the same worker acted from the new run's first tick, sequences anew
        mine = [f for f in fresh if f["entity_id"] == agent]
        assert [int(f["sequence"]) for f in mine] == list(range(1, len(mine) + 1)) and len(
            mine
        ) >= 5


async def _new_run_finished(redis, keys: Keys, old_run: str) -> bool:
    run = await redis.hget(keys.world_meta, "run_id")
    return run is not None and run != old_run and await sim.finished(redis, keys)
