"""Every read route against a world seeded in the documented Redis layout."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from scrai.api.app import create_app
from scrai.embedded import free_port
from scrai.keys import Keys
from scrai.memory.model import Memory
from scrai.memory.store import MemoryStore
from scrai.settings import Settings
from tests.api.conftest import AUTH, Seeded


async def test_simulation_state(client: httpx.AsyncClient, seeded: Seeded) -> None:
    body = (await client.get("/api/simulation")).json()
    assert body["scenario"] == "Test Town"
    assert body["tick"] == seeded.ticks + 1
    assert body["last_closed"] == seeded.ticks
    assert body["state"] == "running"
    assert body["speed"] == 1.0
    assert body["agents_alive"] == 3
    assert body["agents_total"] == 3


async def test_simulation_before_seeding(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/simulation")).json()
    assert body["tick"] is None and body["state"] == "unknown" and body["agents_alive"] == 0


async def test_controls_write_the_clock_control_hash(
    client: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    r = await client.post("/api/simulation/pause", headers=AUTH)
    assert r.status_code == 202
    assert await redis.hget(keys.clock_control, "state") == "paused"
    await client.post("/api/simulation/step", headers=AUTH, json={"steps": 3})
    await client.post("/api/simulation/step", headers=AUTH)
    assert await redis.hget(keys.clock_control, "steps") == "4"
    r = await client.post("/api/simulation/speed", headers=AUTH, json={"speed": 2.5})
    assert r.json()["pending_control"]["speed"] == "2.5"
    await client.post("/api/simulation/resume", headers=AUTH)
    assert await redis.hget(keys.clock_control, "state") == "running"
    r = await client.post("/api/simulation/speed", headers=AUTH, json={"speed": -1})
    assert r.status_code == 422


async def test_control_routes_are_rate_limited(client: httpx.AsyncClient) -> None:
    codes = [
        (await client.post("/api/simulation/step", headers=AUTH)).status_code for _ in range(40)
    ]
    assert codes[0] == 202
    assert 429 in codes  # the burst is 20; refilling at 5/s cannot keep up with 40 at once


async def test_agents_list_and_detail(client: httpx.AsyncClient, seeded: Seeded) -> None:
    agents = (await client.get("/api/agents")).json()
    assert agents["total"] == 3
    by_id = {a["id"]: a for a in agents["agents"]}
    assert by_id["alice"]["place"] == "cafe"  # moved on ticks 1 and 3
    assert all(a["alive"] for a in by_id.values())

    alice = (await client.get("/api/agents/alice")).json()
    assert alice["persona"] == "A baker."
    assert alice["state"]["commit_seq"] == seeded.ticks
    assert alice["mind"]["needs"]["social"] == 0.7
    assert alice["mind"]["plan"][0]["place"] == "cafe"
    assert alice["mind"]["last_decision"]["reason"] == "wants company"
    assert alice["mind"]["last_decision"]["trace"]["memories"] == ["saw Bob at the cafe"]
    assert alice["place"] == "cafe" and alice["start_place"] == "square"
    assert "secret" not in alice

    assert (await client.get("/api/agents/nobody")).status_code == 404
    assert (await client.get("/api/agents/..%2Fetc")).status_code in (404, 422)


async def test_agent_detail_shows_recent_memories(
    client: httpx.AsyncClient, seeded: Seeded, redis: aioredis.Redis, keys: Keys
) -> None:
    store = MemoryStore(redis, keys, seeded.scenario.memory)
    await store.add(
        "alice",
        [
            Memory(id=f"m{t}", agent_id="alice", tick=t, kind="observation",
                   text=f"saw Bob at tick {t}", importance=3.0, keywords=["bob"])
            for t in range(1, 6)
        ],
    )  # fmt: skip
    alice = (await client.get("/api/agents/alice", params={"memories": 3})).json()
    assert [m["text"] for m in alice["memories"]] == [f"saw Bob at tick {t}" for t in (5, 4, 3)]
    assert alice["memories"][0]["importance"] == 3.0
    none = (await client.get("/api/agents/alice", params={"memories": 0})).json()
    assert none["memories"] == []


async def test_agent_detail_before_seeding_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/agents/alice")).status_code == 404
    assert (await client.get("/api/agents")).json() == {"agents": [], "total": 0}


async def test_world(client: httpx.AsyncClient, seeded: Seeded) -> None:
    world = (await client.get("/api/world")).json()
    assert world["scenario"] == "Test Town"
    assert {p["id"]: (p["x"], p["y"]) for p in world["places"]}["cafe"] == (10, 0)
    coffee = next(o for o in world["objects"] if o["id"] == "coffee")
    assert coffee["state"]["resource"] == 4.0 and coffee["max_resource"] == 5
    assert {a["id"]: a["place"] for a in world["agents"]} == {
        "alice": "cafe",
        "bob": "cafe",
        "carol": "park",
    }


async def test_world_before_seeding(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/world")).json()["places"] == []


async def test_events_newest_first_and_paged(client: httpx.AsyncClient, seeded: Seeded) -> None:
    first = (await client.get("/api/events", params={"limit": 5})).json()
    assert [e["id"] for e in first["events"]] == seeded.committed_ids[::-1][:5]
    assert first["events"][0]["type"] == "tick"
    seen = [e["id"] for e in first["events"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await client.get("/api/events", params={"limit": 5, "cursor": cursor})).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
    assert seen == seeded.committed_ids[::-1]


async def test_events_filters(client: httpx.AsyncClient, seeded: Seeded) -> None:
    moves = (await client.get("/api/events", params={"type": "move"})).json()["events"]
    assert len(moves) == seeded.ticks and all(e["entity_id"] == "alice" for e in moves)
    both = (await client.get("/api/events", params=[("type", "move"), ("type", "tick")])).json()
    assert len(both["events"]) == 2 * seeded.ticks
    bobs = (await client.get("/api/events", params={"agent": "bob", "type": "speak"})).json()
    assert [e["tick"] for e in bobs["events"]] == [3, 2, 1]
    window = (await client.get("/api/events", params={"tick_from": 2, "tick_to": 2})).json()
    assert {e["tick"] for e in window["events"]} == {2} and len(window["events"]) == 4
    bad = await client.get("/api/events", params={"cursor": "not-an-id"})
    assert bad.status_code == 422


async def test_metrics(
    client: httpx.AsyncClient, seeded: Seeded, redis: aioredis.Redis, keys: Keys
) -> None:
    await redis.xgroup_create(keys.committed_events, "analytics", id="0")
    await redis.xreadgroup("analytics", "a1", {keys.committed_events: ">"}, count=4)
    text = (await client.get("/metrics")).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(lines["scrai_events_committed_total"]) == 3 * seeded.ticks
    assert float(lines["scrai_events_rejected_total"]) == 1
    total = len(seeded.committed_ids)
    assert float(lines['scrai_stream_length{stream="world_state_committed_events"}']) == total
    group = 'stream="world_state_committed_events",group="analytics"'
    assert float(lines[f"scrai_consumer_group_pending{{{group}}}"]) == 4
    assert float(lines[f"scrai_consumer_group_lag{{{group}}}"]) == total - 4
    assert float(lines["scrai_tick_duration_seconds"]) == 0.0125
    assert "# TYPE scrai_events_committed_total counter" in text


async def test_healthz(client: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "degraded"
    await redis.set(keys.health("world"), '{"tick": 4}')
    assert (await client.get("/healthz")).json() == {
        "status": "ok",
        "redis": True,
        "world": {"tick": 4},
    }


async def test_healthz_says_when_redis_is_away(settings: Settings) -> None:
    gone = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app(gone)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.get("/healthz")
    assert r.status_code == 503 and r.json()["redis"] is False


async def test_dashboard_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    d3 = await client.get("/vendor/d3.v7.min.js")
    assert d3.status_code == 200 and "d3js.org v7" in d3.text[:200]


async def test_docs_page_needs_no_network(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert (await client.get(f"/vendor/swagger-ui/{asset}")).status_code == 200


async def test_openapi_lists_every_resource(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/simulation",
        "/api/agents/{agent_id}",
        "/api/world",
        "/api/events",
        "/api/scenarios",
        "/api/scenarios/validate",
        "/api/live",
        "/metrics",
        "/healthz",
    ):
        assert path in paths
