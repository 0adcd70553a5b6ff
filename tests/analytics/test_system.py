"""The AnalyticsSystem on a real server: graph = brute force, rebuild = live, as_of, exports."""

from __future__ import annotations

import csv
import io
import json

import httpx
import networkx as nx
import pytest

from analytics import query
from analytics.rebuild import build, rebuild, swap, temp_keys
from tests.analytics.naive import assert_graph_equals_naive, recompute
from tests.analytics.runs import app_for, drain, folded_tables, publish_run, stored_tables
from tests.analytics.synth import World
from tests.scenarios import grid_town


@pytest.fixture
def world() -> World:
    return World(grid_town(agents=14)).random_run(60, seed=21)


async def get(app, path: str, **params) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, params=params)


async def test_served_graph_equals_brute_force(redis, keys, settings, world) -> None:
    await publish_run(redis, keys, world)
    await drain(redis, keys, settings)
    served = (await get(app_for(redis, keys, settings), "/api/analytics")).json()
    assert_graph_equals_naive(served, recompute(world.scenario, world.committed))
    # metrics were computed in the background run and are served with every node
    assert served["metrics"]["computed_tick"] == 60 and served["metrics"]["nodes"] == 14
    assert all(n["degree"] is not None and n["community"] is not None for n in served["nodes"])
    assert served["insights"] and all(i["evidence"] for i in served["insights"])
    # and the stored tables are exactly an uninterrupted fold of the log
    ids = [sid for sid, _ in await redis.xrange(keys.committed_events)]
    assert await stored_tables(redis, keys) == folded_tables(world, ids)
    status = (await get(app_for(redis, keys, settings), "/api/analytics/status")).json()
    assert (status["tick"], status["events"], status["metrics_tick"]) == (
        60,
        len(world.committed),
        60,
    )
    assert status["lag"] == 0 and status["pending"] == 0
    updates = await redis.xrevrange(keys.analytics_updates, count=1)
    assert updates and updates[0][1]["kind"] == "metrics"


async def test_filters_and_as_of(redis, keys, settings, world) -> None:
    await publish_run(redis, keys, world)
    await drain(redis, keys, settings)
    app = app_for(redis, keys, settings)
    convo = (await get(app, "/api/analytics", kind="conversation")).json()
    assert convo["links"] and all(
        item["weight"] == item["kinds"]["conversation"]["weight"] > 0 for item in convo["links"]
    )
    strong = (await get(app, "/api/analytics", min_weight=2.0)).json()
    everything = (await get(app, "/api/analytics")).json()
    assert strong["links"] == [item for item in everything["links"] if item["weight"] >= 2.0]
    assert 0 < len(strong["links"]) < len(everything["links"])
    assert (await get(app, "/api/analytics", kind="telepathy")).status_code == 422

    # as_of: the snapshot at or before the tick, replayed forward to it; before the first
    # snapshot, replayed from the seed. Each equals the brute force over the log cut there.
    for as_of, source in ((23, "replay"), (20, "snapshot"), (3, "replay"), (59, "replay")):
        past = (await get(app, "/api/analytics", as_of=as_of)).json()
        assert (past["tick"], past["source"]) == (as_of, source)
        cut = next(i for i, e in enumerate(world.committed) if e.type == "tick" and e.tick == as_of)
        expected = recompute(world.scenario, world.committed[: cut + 1])
        links = {(item["source"], item["target"]): item for item in past["links"]}
        assert set(links) == set(expected["edges"]), as_of
        for pair, want in expected["edges"].items():
            assert links[pair]["weight"] == pytest.approx(want["weight"], rel=1e-9)
            assert links[pair]["kinds"]["conversation"]["turns"] == want["turns"]
            assert links[pair]["kinds"]["shared_object"]["uses"] == want["shared"]
        assert {n["id"]: n["place"] for n in past["nodes"]} == expected["places"]

    # once the stream no longer holds what follows a snapshot, the snapshot is what is served
    await redis.xtrim(keys.committed_events, maxlen=100, approximate=False)
    past = (await get(app, "/api/analytics", as_of=23)).json()
    assert past["tick"] == 20 and past["source"].startswith("snapshot")


async def test_agent_and_insights_routes(redis, keys, settings, world) -> None:
    await publish_run(redis, keys, world)
    await drain(redis, keys, settings)
    app = app_for(redis, keys, settings)
    agent = (await get(app, "/api/analytics/agents/a03")).json()
    assert agent["node"]["id"] == "a03" and agent["metrics"]["degree"] >= 1
    assert sum(agent["movement"]["dwell"].values()) == 60
    weights = [t["weight"] for t in agent["ties"]]
    assert weights == sorted(weights, reverse=True) and all(t["evidence"] for t in agent["ties"])
    known = {str(e.event_id) for e in world.committed}
    assert all(ev["event_id"] in known for t in agent["ties"] for ev in t["evidence"])
    assert (await get(app, "/api/analytics/agents/nobody")).status_code == 404

    body = (await get(app, "/api/analytics/insights")).json()
    assert body["total"] == len(body["insights"]) > 0
    friends = (await get(app, "/api/analytics/insights", kind="friendship")).json()["insights"]
    assert friends and all(i["kind"] == "friendship" for i in friends)
    mine = (await get(app, "/api/analytics/insights", agent="a03")).json()["insights"]
    assert all("a03" in i["agents"] for i in mine)

    places = (await get(app, "/api/analytics/places")).json()
    assert sum(p["agent_ticks"] for p in places["places"]) == 14 * 60
    assert sum(p["occupancy"] for p in places["places"]) == 14
    for p in places["places"]:
        assert sum(w["agent_ticks"] for w in p["windows"]) == p["agent_ticks"]  # 3 windows kept
    objects = {o["id"]: o for o in (await get(app, "/api/analytics/objects")).json()["objects"]}
    uses = [e for e in world.committed if e.type == "world_state_committed"]
    for obj in ("well", "bench", "stove"):
        used = [e for e in uses if getattr(e.payload.action, "object_id", None) == obj]
        assert objects[obj]["uses"] == len(used)
        rejected = [
            e for e in world.rejected if getattr(e.payload.action, "object_id", None) == obj
        ]
        assert objects[obj]["rejections"] == len(rejected)


async def test_exports_read_back_with_networkx(redis, keys, settings, world, tmp_path) -> None:
    await publish_run(redis, keys, world)
    await drain(redis, keys, settings)
    app = app_for(redis, keys, settings)
    served = (await get(app, "/api/analytics")).json()
    weights = {frozenset((i["source"], i["target"])): i["weight"] for i in served["links"]}

    def check(g: nx.Graph) -> None:
        assert set(g.nodes) == {n["id"] for n in served["nodes"]}
        assert {frozenset(e) for e in g.edges} == set(weights)
        for a, b, data in g.edges(data=True):
            assert float(data["weight"]) == pytest.approx(weights[frozenset((a, b))])
        assert g.nodes["a00"]["name"] == "Agent 0"

    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        response = await get(app, "/api/analytics/export", format=fmt)
        assert (
            response.status_code == 200 and "attachment" in response.headers["content-disposition"]
        )
        path = tmp_path / f"g.{fmt}"
        path.write_bytes(response.content)
        check(reader(path))
    data = (await get(app, "/api/analytics/export", format="json")).json()
    check(nx.node_link_graph(data, edges="links"))

    rows = list(
        csv.DictReader(io.StringIO((await get(app, "/api/analytics/export", format="csv")).text))
    )
    ticks = sorted({int(r["tick"]) for r in rows})
    assert ticks == list(range(5, 61, 5))  # every snapshot, the last one being now
    last = nx.Graph()
    last.add_weighted_edges_from(
        (r["source"], r["target"], float(r["weight"])) for r in rows if r["tick"] == "60"
    )
    assert {frozenset(e) for e in last.edges} == set(weights)
    assert (await get(app, "/api/analytics/export", format="pdf")).status_code == 422


async def test_rebuild_equals_live_and_swap_heals(redis, keys, settings, world) -> None:
    log, rejected = world.committed, world.rejected
    parts = [log[:300], log[300:500], log[500:]]
    world.committed = parts[0]
    await publish_run(redis, keys, world)
    system = await drain(redis, keys, settings)
    report = await rebuild(redis, keys)
    assert report.equal, report.differences
    assert report.events == 300 and not await redis.keys(f"{keys.namespace}:rebuild:*")

    # damage the live tables; the comparison says where, the swap repairs them
    await redis.hdel(keys.analytics("edges"), "a00|a01")
    await redis.hset(keys.analytics("nodes"), "a02", json.dumps({"id": "a02"}))
    damaged = await rebuild(redis, keys)
    assert damaged.differences == {"edges": ["a00|a01"], "nodes": ["a02"]}
    fixed = await rebuild(redis, keys, replace=True)
    assert fixed.swapped and (await rebuild(redis, keys)).equal

    # tables rebuilt up to part 0 are swapped in after the live system went on through part 1:
    # at its next batch it reloads them and folds part 1 again from the stream before part 2
    await build(redis, keys, temp_keys(keys))
    world.rejected = []
    for part in parts[1:]:
        world.committed = part
        await publish_run(redis, keys, world, scenario=False)
        await system.committed.run(burst=True)
        if part is parts[1]:
            await swap(redis, keys, temp_keys(keys))
            assert (await redis.hget(keys.analytics("meta"), "events")) == "300"
    assert system.reloads == 2
    world.committed, world.rejected = log, rejected
    ids = [sid for sid, _ in await redis.xrange(keys.committed_events)]
    assert await stored_tables(redis, keys) == folded_tables(world, ids)
    assert (await rebuild(redis, keys)).equal


async def test_unreadable_entries_are_dead_lettered_and_skipped(redis, keys, settings) -> None:
    world = World(grid_town(agents=6)).random_run(20, seed=8)
    half = len(world.committed) // 2
    log = world.committed
    world.committed = log[:half]
    await publish_run(redis, keys, world)
    await redis.xadd(keys.committed_events, {"type": "world_state_committed", "payload": "{"})
    world.committed, world.rejected = log[half:], []
    await publish_run(redis, keys, world, scenario=False)
    await drain(redis, keys, settings)
    dead = await redis.xrange(keys.dead_letter(keys.committed_events))
    assert len(dead) == 1 and dead[0][1]["reason"] == "malformed"
    report = await rebuild(redis, keys)
    assert report.equal, report.differences
    served = (await get(app_for(redis, keys, settings), "/api/analytics")).json()
    assert_graph_equals_naive(served, recompute(world.scenario, log))


async def test_faction_changes_outlive_the_run_that_saw_them(redis, keys, settings, world) -> None:
    await publish_run(redis, keys, world)
    system = await drain(redis, keys, settings)  # first metrics run: every faction is new
    first = await query.read_insights(redis, keys, kind="faction_formed")
    assert first
    again = await system.compute_metrics()  # nothing changed: no faction is new any more
    assert again is not None and not [i for i in again["insights"] if i["kind"] == "faction_formed"]
    assert await query.read_insights(redis, keys, kind="faction_formed") == first
    assert await query.read_insights(redis, keys, kind="friendship")  # states are still there
