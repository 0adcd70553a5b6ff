"""The live stream over a real HTTP server: events in order, resume from Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import redis.asyncio as aioredis

from scrai.keys import Keys
from tests.api.conftest import Seeded, seed_world


async def messages(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """Parse SSE messages (comments included, as ``{"comment": ...}``)."""
    message: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if message:
                yield message
            message = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            message[name] = value.removeprefix(" ")


async def collect(response: httpx.Response, n: int, timeout_s: float = 10) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []

    async def run() -> None:
        async for m in messages(response):
            if "event" in m and m["event"] != "run":  # see test_live_runs.py
                out.append(m)
                if len(out) == n:
                    return

    await asyncio.wait_for(run(), timeout_s)
    return out


async def test_live_stream_delivers_new_events_and_resumes(
    live_server: str, redis: aioredis.Redis, keys: Keys
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        async with http.stream("GET", "/api/live") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            # Connected first (the stream starts from "now"), then the world writes.
            seeded: Seeded = await seed_world(redis, keys, ticks=2)
            await redis.xadd(keys.analytics_updates, {"kind": "graph", "tick": "2"})
            got = await collect(response, 5)
        assert [m["event"] for m in got] == ["event", "event", "event", "tick", "event"]
        assert [json.loads(m["data"])["id"] for m in got] == seeded.committed_ids[:5]
        resume_from = got[-1]["id"]
        assert resume_from.split(",")[0] == seeded.committed_ids[4]

        # A reconnecting browser sends the last id it saw and gets what follows, once.
        headers = {"Last-Event-ID": resume_from}
        async with http.stream("GET", "/api/live", headers=headers) as response:
            rest = await collect(response, len(seeded.committed_ids) - 5 + 2)
        by_kind: dict[str, list[dict]] = {}
        for m in rest:
            by_kind.setdefault(m["event"], []).append(json.loads(m["data"]))
        ids = [e["id"] for e in by_kind["event"] + by_kind["tick"]]
        assert sorted(ids) == seeded.committed_ids[5:]
        assert [m["event"] for m in rest if m["event"] in ("event", "tick")] == [
            "tick" if i in seeded.tick_ids else "event" for i in seeded.committed_ids[5:]
        ]
        assert by_kind["analytics"][0]["kind"] == "graph"
        (rejected,) = by_kind["rejected"]
        assert rejected["kind"] == "rejected" and rejected["type"] == "world_state_rejected"
        final = rest[-1]["id"].split(",")
        assert final == [seeded.committed_ids[-1], by_kind["analytics"][0]["id"], rejected["id"]]


async def test_live_stream_heartbeats_when_quiet(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        async with http.stream("GET", "/api/live") as response:

            async def first_heartbeat() -> str:
                async for m in messages(response):
                    if m.get("comment") == "heartbeat":
                        return "heartbeat"
                return "closed"

            assert await asyncio.wait_for(first_heartbeat(), 5) == "heartbeat"


async def test_live_stream_refuses_foreign_origins(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        r = await http.get("/api/live", headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        host = live_server.removeprefix("http://")
        async with http.stream("GET", "/api/live", headers={"Origin": live_server}) as ok:
            assert ok.status_code == 200 and host in live_server
