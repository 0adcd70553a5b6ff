"""End to end with the real world system: the test plays the agents, the world commits, analytics
folds its committed log, and the served graph equals a brute-force recomputation of that log."""

from __future__ import annotations

import httpx

from analytics.rebuild import rebuild
from scrai.scenario.store import save_scenario
from tests.analytics.naive import assert_graph_equals_naive, recompute
from tests.analytics.runs import app_for, drain
from tests.helpers import wait_for
from tests.scenarios import line_town
from tests.world.driver import Cast, closed, random_script, read_log, running_world

TICKS = 25


async def test_world_run_served_graph_equals_brute_force(redis, keys, settings) -> None:
    scenario = line_town(tick_deadline_s=30)
    await save_scenario(redis, keys, scenario)
    cast = Cast(redis, keys, [a.id for a in scenario.agents], random_script(scenario, seed=5))
    async with running_world(settings):
        await cast.play(TICKS)
        await wait_for(lambda: closed(redis, keys, TICKS), timeout_s=30)
    log, rejected = await read_log(redis, keys)
    assert rejected and sum(e.type == "tick" for e in log) == TICKS

    await drain(redis, keys, settings)
    transport = httpx.ASGITransport(app=app_for(redis, keys, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        served = (await client.get("/api/analytics")).json()
    expected = recompute(scenario, log)
    assert expected["edges"], "the run produced no ties: nothing was compared"
    assert_graph_equals_naive(served, expected)
    assert (await rebuild(redis, keys)).equal
