"""``python -m scrai.memory``: the long-running memory consolidator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.exceptions import RedisError

from scrai.connection import connect
from scrai.keys import Keys
from scrai.memory.consolidator import MemoryConsolidator
from scrai.scenario.store import load_scenario
from scrai.service import run_service
from scrai.settings import Settings

log = logging.getLogger("scrai.memory")


async def main(stop: asyncio.Event) -> None:
    settings = Settings()
    keys = Keys(settings.namespace)
    redis = connect(settings, block_ms=settings.consumer_block_ms)
    try:
        # Whoever starts the run stores the scenario; wait for it rather than fail.
        scenario = await load_scenario(redis, keys)
        while scenario is None and not stop.is_set():
            log.info("waiting for a scenario at %s", keys.scenario)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            scenario = await load_scenario(redis, keys)
        if scenario is None:
            return
        consolidator = MemoryConsolidator(redis, keys, scenario, settings=settings)
        task = asyncio.create_task(consolidator.run())
        log.info("consolidating memories of %d agents (%s)", len(scenario.agents), scenario.name)
        while not stop.is_set() and not task.done():
            # Heartbeat for container healthchecks; it expires if this loop stalls. While
            # Redis is away the consumer backs off and retries; so does the heartbeat.
            try:
                await redis.set(keys.health("memory"), str(time.time()), ex=settings.health_ttl_s)
            except RedisError as exc:
                log.warning("heartbeat not written: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(1.0, settings.health_ttl_s / 3))
        consolidator.stop()
        stats = await task
        log.info("stopped: %s", stats)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    run_service("memory", main)
