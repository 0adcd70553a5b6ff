"""Redis goes away for longer than the spawner's lease: the spawner keeps its workers.

A real server of the test's own is SIGKILLed under a running spawner (process
backend, real workers) and started again on the same port with its AOF. The
spawner must neither exit nor touch its workers while it cannot renew; once
Redis is back it takes its lapsed lease back and goes on with the same workers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from scrai.connection import connect
from scrai.embedded import EmbeddedRedis
from scrai.keys import Keys
from scrai.settings import Settings
from spawner.lease import Lease
from tests.helpers import pid_alive, wait_for
from tests.spawner.harness import AGENTS, SpawnerProcess
from tests.spawner.test_process_backend import all_alive, all_running


async def test_keep_takes_a_lapsed_lease_back_but_not_a_taken_one(
    redis: aioredis.Redis, keys: Keys
) -> None:
    lease = Lease(redis, keys.spawner_lease, ttl_s=5)
    assert await lease.acquire() and lease.held()
    await redis.delete(keys.spawner_lease)  # as if it expired while Redis was away
    assert await lease.keep() and lease.held()
    assert await lease.holder() == lease.token
    await redis.set(keys.spawner_lease, "another-spawner")
    assert not await lease.keep()
    assert await redis.get(keys.spawner_lease) == "another-spawner"


@pytest.mark.slow
@pytest.mark.chaos
async def test_outliving_the_lease_keeps_the_workers_and_takes_it_back(
    outage_server: EmbeddedRedis,
    make_process_spawner: Callable[..., SpawnerProcess],
    settings: Settings,
) -> None:
    server = outage_server
    spawner = make_process_spawner({"SCRAI_REDIS_URL": server.url})
    keys = Keys(settings.namespace)
    redis = connect(settings.model_copy(update={"redis_url": server.url}))
    try:
        spawner.start()
        before = await wait_for(lambda: all_running(redis, keys), 30)
        await wait_for(lambda: all_alive(redis, keys), 30)
        workers = spawner.worker_pids()
        assert len(workers) == len(AGENTS)

        server.kill()
        # The spawner's own clock says the lease (2 s) ran out; two failed renewals later
        # (0.25 s apart) the server's copy has surely expired too.
        await wait_for(lambda: "lease lapsed" in spawner.output(), 30)
        failures = spawner.output().count("cannot renew the lease")
        await wait_for(lambda: spawner.output().count("cannot renew the lease") >= failures + 2, 30)
        assert spawner.process is not None and spawner.process.poll() is None
        assert all(pid_alive(p) for p in workers)

        server.start()
        await wait_for(lambda: "lease had lapsed" in spawner.output(), 30)
        assert spawner.process.poll() is None, spawner.output()
        # The same workers, none restarted, and they act for their agents again.
        await wait_for(lambda: all_alive(redis, keys), 30)
        after = await wait_for(lambda: all_running(redis, keys), 30)
        assert spawner.worker_pids() == workers
        assert {a: s["handle"] for a, s in after.items()} == {
            a: s["handle"] for a, s in before.items()
        }
        assert all(s["restarts"] == 0 for s in after.values())
        meta = await redis.hgetall(keys.spawner_meta)
        assert meta["pid"] == str(spawner.process.pid)
        lease = await redis.get(keys.spawner_lease)
        assert lease is not None, spawner.output()
        assert "lost the lease" not in spawner.output()

        # And it still stops cleanly, removing what it started.
        assert spawner.terminate() == 0, spawner.output()
        assert not any(pid_alive(p) for p in workers)
        assert not await redis.exists(keys.worker_status, keys.spawner_meta)
    finally:
        await redis.aclose()
