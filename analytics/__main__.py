"""``python -m analytics``: run the AnalyticsSystem until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from scrai.service import run_service


async def main(stop: asyncio.Event) -> None:
    from analytics.system import AnalyticsSystem
    from scrai.connection import connect
    from scrai.keys import Keys
    from scrai.settings import Settings

    settings = Settings()
    redis = connect(settings, block_ms=settings.consumer_block_ms)
    try:
        system = AnalyticsSystem(redis, Keys(settings.namespace), settings, freeze_heap=True)
        await system.run(stop)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    run_service("analytics", main)
