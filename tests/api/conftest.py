"""API fixtures: an app on the test's namespace, a seeded world, and a real HTTP server.

The world state is written exactly as the world system lays it out
(CONTRACTS "Redis layout"), so the API is tested against the documented format.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from fastapi import FastAPI

from scrai.api.app import create_app
from scrai.embedded import free_port
from scrai.events import Idle, Move, Speak
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from tests.events_factory import action_id, committed, tick_event

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SCENARIO = {
    "name": "Test Town",
    "seed": 7,
    "world": {
        "places": [
            {"id": "square", "name": "Square", "position": [0, 0], "neighbors": ["cafe", "park"]},
            {"id": "cafe", "name": "Cafe", "position": [10, 0], "neighbors": ["square"]},
            {"id": "park", "name": "Park", "position": [0, 10], "neighbors": ["square"]},
        ],
        "objects": [
            {"id": "bench", "kind": "bench", "place": "park", "satisfies": ["rest"]},
            {
                "id": "coffee",
                "kind": "machine",
                "place": "cafe",
                "rules": {"resource": 5, "refill_per_tick": 1},
            },
        ],
    },
    "agents": [
        {"id": "alice", "name": "Alice", "place": "square", "persona": "A baker."},
        {"id": "bob", "name": "Bob", "place": "cafe", "persona": "A painter."},
        {"id": "carol", "name": "Carol", "place": "park", "persona": "A teacher."},
    ],
}


@dataclass
class Seeded:
    scenario: Scenario
    ticks: int
    committed_ids: list[str]  # stream ids of every entry, oldest first
    tick_ids: set[str]  # those of the TickEvents


async def seed_world(redis: aioredis.Redis, keys: Keys, ticks: int = 3) -> Seeded:
    """A world seeded and run for ``ticks`` ticks: everyone moves, speaks or idles each tick."""
    scenario = Scenario.model_validate(SCENARIO)
    await save_scenario(redis, keys, scenario)
    await redis.hset(
        keys.world_meta,
        mapping={"scenario": scenario.name, "seed": "7", "run_id": "run-1", "seeded_at": "1"},
    )
    places = {a.id: a.place for a in scenario.agents}
    seqs = {a.id: 0 for a in scenario.agents}
    ids: list[str] = []
    tick_ids: set[str] = set()
    for tick in range(1, ticks + 1):
        events = []
        for agent in sorted(places):
            before = {f"agent:{agent}": {"place": places[agent]}}
            if agent == "alice":
                action = Move(to="cafe" if places[agent] == "square" else "square")
                places[agent] = action.to
            elif agent == "bob":
                action = Speak(text=f"hello at {tick}")
            else:
                action = Idle(reason="resting")
            seqs[agent] += 1
            events.append(
                committed(
                    agent,
                    seqs[agent],
                    tick,
                    action,
                    before=before,
                    after={f"agent:{agent}": {"place": places[agent]}},
                    observers=[a for a in places if a != agent],
                    action_event_id=action_id(agent, seqs[agent], "run-1"),
                )
            )
        events.append(
            tick_event(tick, run_id="run-1", committed=3, agents_alive=3, duration_ms=12.5)
        )
        for event in events:
            ids.append(await redis.xadd(keys.committed_events, event.to_fields()))
        tick_ids.add(ids[-1])
    await redis.hset(
        keys.agents_state,
        mapping={
            a: json.dumps(
                {
                    "place": places[a],
                    "action_seq": seqs[a],
                    "commit_seq": seqs[a],
                    "last_tick": ticks,
                    "last_rejection": None,
                }
            )
            for a in places
        },
    )
    await redis.hset(
        keys.objects_state,
        mapping={
            "bench": json.dumps(
                {
                    "place": "park",
                    "resource": None,
                    "uses": 2,
                    "last_user": "carol",
                    "users_tick": 2,
                    "users": ["carol"],
                }
            ),
            "coffee": json.dumps(
                {
                    "place": "cafe",
                    "resource": 4.0,
                    "uses": 1,
                    "last_user": "bob",
                    "users_tick": 1,
                    "users": [],
                }
            ),
        },
    )
    await redis.hset(
        keys.clock,
        mapping={
            "tick": ticks + 1,
            "state": "running",
            "speed": "1.0",
            "opened_at": time.time(),
            "deadline_at": time.time() + 2,
            "last_closed": ticks,
        },
    )
    await redis.zadd(keys.agents_alive, {a: time.time() + 60 for a in places})
    await redis.hset(
        keys.agent_mind("alice"),
        mapping={
            "needs": json.dumps({"social": 0.7, "rest": 0.2, "curiosity": 0.4, "goal": 0.5}),
            "plan": json.dumps([{"place": "cafe", "activity": "bake"}]),
            "plan_step": json.dumps({"place": "cafe", "activity": "bake"}),
            "last_decision": json.dumps(
                {
                    "tick": ticks,
                    "action": {"kind": "move", "to": "square"},
                    "reason": "wants company",
                    "brain": "rule",
                    "trace": {"memories": ["saw Bob at the cafe"], "needs": {"social": 0.7}},
                }
            ),
            "tokens": "0",
            "last_tick": str(ticks),
        },
    )
    await redis.xadd(keys.rejected_events, {"type": "world_state_rejected", "payload": "{}"})
    await redis.set(keys.health("world"), json.dumps({"tick": ticks + 1}), ex=30)
    return Seeded(scenario=scenario, ticks=ticks, committed_ids=ids, tick_ids=tick_ids)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, live_heartbeat_s=0.2)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def seeded(redis: aioredis.Redis, keys: Keys) -> Seeded:
    return await seed_world(redis, keys)


@pytest.fixture
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """The app served by a real uvicorn on a free port (streams need a real server)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)
