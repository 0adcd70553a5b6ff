"""``python -m scrai.api``: serve the API and the dashboard with uvicorn.

Signals are handled the way every ScrAI service handles them (``run_service``):
the first SIGTERM/SIGINT drains open requests and exits 0, a second forces the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import Iterator

import uvicorn

from scrai.api.app import create_app
from scrai.service import run_service
from scrai.settings import Settings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # run_service owns the signals


async def main(stop: asyncio.Event) -> None:
    settings = Settings()
    if not settings.api_token:
        settings = settings.model_copy(update={"api_token": secrets.token_urlsafe(24)})
        print("SCRAI_API_TOKEN was not set; this run's token is:", settings.api_token, flush=True)
    url = f"http://{settings.api_host}:{settings.api_port}/#token={settings.api_token}"
    print(f"dashboard: {url}", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        proxy_headers=False,
        # Live streams never end by themselves: give them a moment, then close them.
        timeout_graceful_shutdown=3,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving


if __name__ == "__main__":
    run_service("api", main)
