"""The server dies (SIGKILL) under a running consumer and comes back on the same port."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from scrai.bus import Consumer, publish_many
from scrai.connection import connect
from scrai.embedded import EmbeddedRedis
from scrai.keys import Keys
from scrai.settings import Settings
from tests.helpers import idle_events, wait_for

MAX_BACKOFF_S = 0.4


@pytest.mark.slow
@pytest.mark.chaos
async def test_consumer_recovers_with_capped_backoff_and_loses_nothing(tmp_path) -> None:
    # Every write is fsynced before it is answered, so "acknowledged" means "on disk".
    server = EmbeddedRedis(tmp_path / "redis", appendfsync="always").start()
    settings = Settings(redis_url=server.url, namespace="restart")
    keys = Keys(settings.namespace)
    stream, fx = keys.action_events, keys.analytics("fx")
    client = connect(settings)
    # The consumer's client does not retry on its own, so the consumer's backoff is the only
    # thing between two attempts: a hot loop would show in the count.
    consumer_client = aioredis.Redis.from_url(
        server.url, decode_responses=True, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    try:
        events = idle_events(3_000)
        await publish_many(client, stream, events[:2_000])

        async def handler(batch, tx) -> None:
            for delivery in batch:
                tx.hincrby(fx, str(delivery.event.event_id), 1)
            await asyncio.sleep(0.002)  # some work, so the kill finds the consumer busy

        consumer = Consumer(
            consumer_client, stream, "g", "c1", handler, keys=keys,
            batch_size=50, block_ms=100, max_backoff_s=MAX_BACKOFF_S,
        )  # fmt: skip
        task = asyncio.create_task(consumer.run())
        await wait_for(lambda: consumer.stats.handled >= 500, 30)
        handled_before = await client.hlen(fx)

        server.kill()
        down_at = time.monotonic()
        await wait_for(lambda: consumer.stats.reconnects >= 4, 30)
        server.start()
        up_at = time.monotonic()
        downtime = up_at - down_at
        reconnects_while_down = consumer.stats.reconnects
        handled_at_restart = consumer.stats.handled
        # Capped backoff: back at work within about one longest wait of the server's return.
        await wait_for(lambda: consumer.stats.handled > handled_at_restart, 10, interval_s=0.005)
        assert time.monotonic() - up_at < MAX_BACKOFF_S + 0.5

        assert await client.hlen(fx) >= handled_before  # nothing acknowledged was lost
        await publish_many(client, stream, events[2_000:])
        # Wait on the effects, not on stats.handled: a transaction the kill cut off after it
        # applied (its reply lost) is in Redis, acked, but never counted by this process.
        await wait_for(lambda: _all_applied(client, stream, fx, 3_000), 60)
        consumer.stop()
        await asyncio.wait_for(task, 10)

        counts = {k: int(v) for k, v in (await client.hgetall(fx)).items()}
        assert counts == {str(e.event_id): 1 for e in events}
        assert (await client.xpending(stream, "g"))["pending"] == 0
        # Capped, jittered backoff: the first waits are at least 25, 50, 100 ms, then at
        # least MAX_BACKOFF_S/2 each. A hot loop would make thousands of attempts.
        assert reconnects_while_down <= 4 + downtime / (MAX_BACKOFF_S / 2), (
            reconnects_while_down,
            downtime,
        )
        # No reconnect storm: since the restart, the consumer and this test together opened
        # a handful of connections (a storm would be hundreds).
        info = await client.info("stats")
        assert info["total_connections_received"] <= 10, info["total_connections_received"]
    finally:
        await client.aclose()
        await consumer_client.aclose()
        server.stop()


async def _all_applied(client, stream: str, fx: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await client.hlen(fx) >= n and (await client.xpending(stream, "g"))["pending"] == 0
