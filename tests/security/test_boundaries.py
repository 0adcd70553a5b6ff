"""Who can reach what: the Docker socket, the control routes' rate limit, scenario input.

Covered elsewhere and not repeated here: every mutating route refusing a missing or
wrong token (``tests/api/test_auth.py``, a walk of the route table), CORS closed unless
configured (same file), the live stream refusing foreign origins
(``tests/api/test_live.py``, ``tests/api/test_pure.py``), scenario names with ``..``,
absolute paths, NUL or hidden parts (``tests/scenario/test_names.py``), and junk, an
alias bomb and an oversized upload to ``/api/scenarios/validate``
(``tests/api/test_scenarios.py``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from scrai.api.app import create_app
from scrai.api.ratelimit import limit_control
from scrai.scenario.loader import MAX_BYTES
from scrai.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-token"}
SOCKET = "docker.sock"


def _volumes(service: dict[str, Any]) -> list[str]:
    out = []
    for volume in service.get("volumes", []):
        out.append(volume if isinstance(volume, str) else f"{volume.get('source')}:{volume}")
    return out


def test_only_the_spawner_service_mounts_the_docker_socket() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # resolves the anchors
    services = compose["services"]
    with_socket = sorted(n for n, s in services.items() if any(SOCKET in v for v in _volumes(s)))
    assert with_socket == ["spawner"]
    for name, service in services.items():
        assert not service.get("privileged"), name
        assert service.get("network_mode") != "host" or name == "spawner", name
        assert not any(
            "/var/run" in v or "/run/" in v for v in _volumes(service) if name != "spawner"
        )
    # The workers the spawner starts get no socket either: no backend mounts it.
    for backend in (ROOT / "spawner" / "backends").glob("*.py"):
        assert SOCKET not in backend.read_text(), backend.name


def test_the_api_process_never_imports_docker(settings: Settings) -> None:
    """Create the app, run its lifespan and serve every GET route: no ``docker`` module loaded."""
    script = f"""
import asyncio, re, sys, httpx
from scrai.api.app import create_app
from scrai.settings import Settings

async def main():
    app = create_app(Settings(redis_url={settings.redis_url!r}, namespace={settings.namespace!r},
                              api_token="t"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for route in app.routes:
                path = getattr(route, "path", "")
                if "GET" in (getattr(route, "methods", None) or ()) and "live" not in path:
                    await http.get(re.sub(r"\\{{[^}}]+\\}}", "alice", path))
    import scrai.api.__main__  # the process's own entry point too
    loaded = sorted(m for m in sys.modules if m == "docker" or m.startswith("docker."))
    print("DOCKER-MODULES", loaded)

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=90
    )
    assert "DOCKER-MODULES []" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]


@pytest.fixture
async def app(settings: Settings, tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = create_app(settings, scenarios_dir=tmp_path / "scenarios")
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def all_routes(app: FastAPI) -> list[Any]:
    """Every route, those of included routers too (as tests/api/test_auth.py walks them)."""
    try:
        from fastapi.routing import iter_route_contexts

        return [c.route for c in iter_route_contexts(app.routes)]
    except ImportError:
        return list(app.routes)


def control_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in all_routes(app):
        dependant = getattr(route, "dependant", None)
        if dependant and limit_control in {d.call for d in dependant.dependencies}:
            found += [(m, route.path) for m in sorted(route.methods)]  # type: ignore[attr-defined]
    return found


async def test_every_control_route_is_rate_limited(app: FastAPI, client: httpx.AsyncClient) -> None:
    routes = control_routes(app)
    simulation = {
        (m, p) for p, ms in ((r.path, r.methods) for r in all_routes(app) if hasattr(r, "methods"))
        for m in ms if p.startswith("/api/simulation/") and m == "POST"
    }  # fmt: skip
    assert simulation and simulation <= set(routes), "a clock control without the rate limit"
    body = {"/api/simulation/speed": {"speed": 1.5}, "/api/simulation/step": {"steps": 1}}
    for method, path in routes:
        app.state.control_limit.reset()
        codes = []
        for _ in range(int(app.state.control_limit.burst) + 10):
            r = await client.request(method, path, headers=AUTH, json=body.get(path))
            codes.append(r.status_code)
        assert codes[0] == 202, (path, codes[0])
        limited = [c for c in codes if c == 429]
        assert limited, f"{method} {path} never answered 429"
        assert codes.index(429) >= int(app.state.control_limit.burst) - 1, codes
        r = await client.request(method, path, headers=AUTH, json=body.get(path))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "too many" in r.json()["detail"]
    # The limit is for control: reading stays open while control is throttled.
    assert (await client.get("/api/simulation")).status_code == 200


async def test_refused_requests_do_not_spend_the_limit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Without the token nothing is spent, so a flood of bad tokens cannot lock the owner out."""
    app.state.control_limit.reset()
    for _ in range(100):
        assert (await client.post("/api/simulation/pause")).status_code == 401
    assert (await client.post("/api/simulation/pause", headers=AUTH)).status_code == 202


async def test_alias_bomb_is_refused_fast_with_a_clear_message(client: httpx.AsyncClient) -> None:
    # a billion-laughs document: nine levels of nine aliases each
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    started = time.monotonic()
    r = await client.post(
        "/api/scenarios/validate",
        content=bomb,
        headers={"Content-Type": "application/yaml", **AUTH},
    )
    assert time.monotonic() - started < 5
    body = r.json()
    assert r.status_code == 200 and body["valid"] is False
    assert any("alias" in p.lower() for p in body["problems"]), body["problems"]


async def test_oversized_upload_without_a_length_is_refused(client: httpx.AsyncClient) -> None:
    """A chunked upload (no Content-Length) is cut off at the cap, not read to the end."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BYTES // 65_536 + 8):
            yield b"#" * 65_536

    r = await client.post(
        "/api/scenarios/validate",
        content=chunks(),
        headers={"Content-Type": "application/yaml", **AUTH},
    )
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


async def test_the_scenario_list_does_not_follow_links_out_of_the_folder(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    outside = tmp_path / "private.yml"
    outside.write_text("name: private\nsecret: hunter2\n")
    (folder / "link.yml").symlink_to(outside)
    listed = (await client.get("/api/scenarios")).json()["scenarios"]
    assert [s["file"] for s in listed] == []


TRAVERSALS = ["..%2F..%2Fetc%2Fpasswd", "..%2Fscenarios%2Fdefault.yml", "%2Fetc%2Fpasswd", "a%00b"]


async def test_no_route_follows_a_traversal_in_its_path(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Every route with a path parameter (agent ids, scenario names if any) refuses a path."""
    walked = 0
    for route in all_routes(app):
        path = getattr(route, "path", "")
        if "{" not in path or "live" in path:
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            for bad in TRAVERSALS:
                r = await client.request(method, re.sub(r"\{[^}]+\}", bad, path), headers=AUTH)
                walked += 1
                assert r.status_code in (400, 401, 404, 405, 413, 422), (method, path, bad)
                assert "root:" not in r.text and "name:" not in r.text, (method, path, bad)
    assert walked, "no route with a path parameter was walked"
