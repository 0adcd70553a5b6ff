"""The FastAPI application: routers, the dashboard, and the Redis client's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from analytics.api import router as analytics_router
from scrai import __version__
from scrai.api.ratelimit import RateLimit
from scrai.api.routes import agents, events, health, live, metrics, scenarios, simulation, world
from scrai.connection import connect
from scrai.keys import Keys
from scrai.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def create_app(
    settings: Settings,
    *,
    scenarios_dir: Path | None = None,
    frontend_dir: Path | None = None,
    live_heartbeat_s: float = 15.0,
    control_rate_per_s: float = 5.0,
    control_burst: int = 20,
) -> FastAPI:
    """The API server for the simulation in ``settings`` (its Redis URL and namespace)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.keys = Keys(settings.namespace)
        # Live listeners block on XREAD for one heartbeat: the socket must outwait it.
        app.state.redis = connect(settings, block_ms=int(live_heartbeat_s * 1000))
        try:
            yield
        finally:
            await app.state.redis.aclose()

    app = FastAPI(
        title="ScrAI",
        version=__version__,
        summary="Watch and steer a ScrAI simulation: world, agents, events, social graph.",
        lifespan=lifespan,
        # The docs page's scripts are vendored (frontend/vendor): it works with no network.
        docs_url=None,
        redoc_url=None,
    )
    app.state.scenarios_dir = scenarios_dir or ROOT / "scenarios"
    app.state.scenario_summaries = {}
    app.state.live_heartbeat_s = live_heartbeat_s
    app.state.control_limit = RateLimit(rate_per_s=control_rate_per_s, burst=control_burst)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="ScrAI API",
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    for module in (simulation, agents, world, events, scenarios, live, metrics, health):
        app.include_router(module.router)
    app.include_router(analytics_router)  # /api/analytics: the social graph, insights, exports

    if settings.cors_origins:  # closed unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    frontend = frontend_dir or ROOT / "frontend"
    if frontend.is_dir():
        # Last, so every API route above takes precedence over a file of the same name.
        app.mount("/", StaticFiles(directory=frontend, html=True), name="dashboard")
    return app
