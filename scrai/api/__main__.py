"""``python -m scrai.api``: serve the API and the dashboard with uvicorn."""

from __future__ import annotations

import secrets
import sys

import uvicorn

from scrai.api.app import create_app
from scrai.service import configure_logging
from scrai.settings import Settings


def main() -> None:
    configure_logging("api")
    settings = Settings()
    if not settings.api_token:
        settings = settings.model_copy(update={"api_token": secrets.token_urlsafe(24)})
        print("SCRAI_API_TOKEN was not set; this run's token is:", settings.api_token, flush=True)
    url = f"http://{settings.api_host}:{settings.api_port}/#token={settings.api_token}"
    print(f"dashboard: {url}", file=sys.stderr, flush=True)
    # uvicorn handles SIGTERM/SIGINT itself: first signal drains, second forces.
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
