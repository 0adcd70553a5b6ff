"""A world seeded again (``scrai up --reseed``) starts a new run on the same streams:
the analytics tables start over and hold the last run only, as a fold of it alone would."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from analytics.rebuild import rebuild
from analytics.system import AnalyticsSystem
from scrai.keys import Keys
from tests.analytics.naive import assert_graph_equals_naive, recompute
from tests.analytics.runs import app_for, drain, folded_tables, publish_run, stored_tables
from tests.analytics.synth import World
from tests.scenarios import grid_town


async def get(app, path: str, **params) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, params=params)


async def analytics_dump(redis, keys: Keys) -> dict[str, str]:
    """Every key under the analytics prefix (suffix -> its content as text)."""
    prefix = keys.analytics("")
    out = {}
    async for key in redis.scan_iter(match=f"{prefix}*"):
        kind = await redis.type(key)
        if kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        else:
            value = await redis.get(key)
        out[key[len(prefix) :]] = json.dumps(value, sort_keys=True)
    return out


@pytest.mark.parametrize(
    ("mode", "batch"),
    [("separate", 2_000), ("restarted", 2_000), ("together", 2_000), ("together", 37)],
)
async def test_a_new_run_starts_the_tables_over(redis, keys, settings, mode, batch) -> None:
    settings = settings.model_copy(update={"analytics_batch_size": batch})
    run_a = World(grid_town(agents=14), run_id="a").random_run(40, seed=21)
    # The re-seed comes with another scenario: a smaller cast, so run A's extra agents must go.
    run_b = World(grid_town(agents=9, seed=3), run_id="b").random_run(25, seed=5)
    assert run_a.rejected and run_b.rejected
    # The rejections' own rule by tick is exercised: run B's first comes before A's last.
    assert run_b.rejected[0].tick < run_a.rejected[-1].tick

    system = AnalyticsSystem(redis, keys, settings)
    await publish_run(redis, keys, run_a)
    if mode != "together":  # the live system has folded run A when the world is seeded again
        await system.run(asyncio.Event(), burst=True)
        assert await redis.exists(keys.analytics("snapshot:40"))
        a_insights = await redis.hlen(keys.analytics("insights"))
        assert a_insights and system.scenario.agents == run_a.scenario.agents
    await publish_run(redis, keys, run_b)  # stores run B's scenario, as a re-seed does
    if mode == "separate":  # same process: it must notice by itself and reload the scenario
        await system.committed.run(burst=True)
        await system.rejected.run(burst=True)
        await system.compute_metrics()
    elif mode == "restarted":  # a new process: loads run A's tables, then meets run B
        system = await drain(redis, keys, settings)
    else:
        await system.run(asyncio.Event(), burst=True)
    assert system.scenario.agents == run_b.scenario.agents

    # The stored tables are exactly a fold of run B alone (its own stream ids).
    ids = [sid for sid, _ in await redis.xrange(keys.committed_events)]
    ids_b = ids[len(run_a.committed) :]
    assert await stored_tables(redis, keys) == folded_tables(run_b, ids_b)
    meta = await redis.hgetall(keys.analytics("meta"))
    assert meta["run_start"] == ids[len(run_a.committed) - 1]
    assert json.loads(meta["params"]) == json.loads(system.state.params.to_json())

    # Served: the graph of run B, brute force; as_of before B's first snapshot replays B only.
    app = app_for(redis, keys, settings)
    served = (await get(app, "/api/analytics")).json()
    assert_graph_equals_naive(served, recompute(run_b.scenario, run_b.committed))
    assert served["metrics"]["computed_tick"] == 25
    past = (await get(app, "/api/analytics", as_of=7)).json()
    assert (past["tick"], past["source"]) == (7, "replay")
    cut = next(i for i, e in enumerate(run_b.committed) if e.type == "tick" and e.tick == 7)
    expected = recompute(run_b.scenario, run_b.committed[: cut + 1])
    assert {(x["source"], x["target"]) for x in past["links"]} == set(expected["edges"])

    # Nothing of run A is left under any analytics key: same keys as a fold of B alone in
    # another namespace, and none of A's event ids anywhere (snapshots, insights, evidence).
    alone = Keys(f"{keys.namespace}:alone")
    await publish_run(redis, alone, run_b)
    await drain(redis, alone, settings)
    mixed, clean = await analytics_dump(redis, keys), await analytics_dump(redis, alone)
    assert sorted(mixed) == sorted(clean)
    assert "snapshot:30" not in mixed and "snapshot:20" in mixed
    text = "\n".join(mixed.values())
    a_ids = {str(e.event_id) for e in [*run_a.committed, *run_a.rejected]}
    assert not [i for i in a_ids if i in text]
    for suffix in ("rejections", "rejections:evidence", "insights", "nodes", "edges"):
        assert mixed[suffix] == clean[suffix], suffix

    # A rebuild replays both runs and ends with the live tables (the last run only).
    report = await rebuild(redis, keys)
    assert report.equal, report.differences
    assert report.position == ids[-1] and report.tick == 25
    assert not await redis.keys(f"{keys.namespace}:rebuild:*")
    swapped = await rebuild(redis, keys, replace=True)
    assert swapped.equal and await stored_tables(redis, keys) == folded_tables(run_b, ids_b)


def test_rejections_start_over_when_ticks_go_back() -> None:
    from types import SimpleNamespace as Ev

    from analytics.rejections import last_run

    entries = [(str(i), Ev(tick=t)) for i, t in enumerate([5, 5, 7, 2, 2, 4])]
    assert last_run(entries, 3) == (entries[3:], True, 4)
    assert last_run(entries[:3], 3) == (entries[:3], False, 7)
    assert last_run(entries[:3], 6) == (entries[:3], True, 7)  # the counters were at tick 6
