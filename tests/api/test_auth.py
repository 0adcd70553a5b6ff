"""Every mutating route refuses a request without the token or with a wrong one."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from scrai.api.app import create_app
from scrai.api.deps import require_token
from scrai.settings import Settings
from tests.api.conftest import AUTH

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def route_table(app: FastAPI) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, including those of included routers."""
    try:
        from fastapi.routing import iter_route_contexts  # routers included lazily

        routes = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    return [(r.path, set(r.methods or ())) for r in routes if getattr(r, "methods", None)]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "alice", path)


def mutating_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, path) for path, methods in route_table(app) for method in methods & MUTATING
    )


async def test_the_route_table_has_mutating_routes(app: FastAPI) -> None:
    found = mutating_routes(app)
    # The walk must see routes of included routers, or the next test proves nothing.
    assert ("POST", "/api/simulation/pause") in found
    assert ("POST", "/api/scenarios/validate") in found


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Bearer ", "Basic dGVzdA==", "Bearer test-token-and-more"],
)
async def test_every_mutating_route_refuses_without_the_token(
    app: FastAPI, client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in mutating_routes(app):
        r = await client.request(method, concrete(path), headers=headers, json={})
        assert r.status_code == 401, f"{method} {path} answered {r.status_code} to {header!r}"
        assert r.headers.get("www-authenticate") == "Bearer"


async def test_the_right_token_is_accepted(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/simulation/pause", headers=AUTH)).status_code == 202


async def test_without_a_configured_token_nothing_mutates(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"api_token": None}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.post("/api/simulation/pause", headers={"Authorization": "Bearer "})
            assert r.status_code == 401


def test_require_token_is_the_dependency_of_every_mutating_route(app: FastAPI) -> None:
    try:
        from fastapi.routing import iter_route_contexts

        routes = [c.route for c in iter_route_contexts(app.routes)]
    except ImportError:
        routes = list(app.routes)
    for route in routes:
        methods = set(getattr(route, "methods", None) or ())
        if methods & MUTATING:
            calls = {d.call for d in route.dependant.dependencies}  # type: ignore[attr-defined]
            assert require_token in calls, route.path  # type: ignore[attr-defined]


async def test_cors_is_closed_unless_configured(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    pre = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    r = await client.options("/api/simulation/pause", headers=pre)
    assert "access-control-allow-origin" not in r.headers

    app = create_app(settings.model_copy(update={"cors_origins": ["http://lab.example"]}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            ok = await http.options(
                "/api/simulation/pause", headers={**pre, "Origin": "http://lab.example"}
            )
            assert ok.headers["access-control-allow-origin"] == "http://lab.example"
            bad = await http.options("/api/simulation/pause", headers=pre)
            assert "access-control-allow-origin" not in bad.headers
