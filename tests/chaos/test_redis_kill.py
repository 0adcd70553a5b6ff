"""Redis itself SIGKILLed mid-run and restarted on the same port, round after round.

What "acknowledged" means here: the server runs with ``appendfsync always``, so it
writes and fsyncs the AOF before it sends any reply of that event-loop turn. Every
write a client has seen answered — and everything any client has read — is then on
disk, and must be there after the restart. (With the default ``everysec`` up to one
second of answered writes may be lost by design: that is the documented trade-off of
``scrai up``'s private server, and this test does not claim otherwise.)

Per round: note what is acknowledged (the committed stream's length and last id, every
agent's commit sequence, a counter the test INCRs), SIGKILL the server, start it again
on the same port, check all of it is still there, then wait for the run to move on with
no help: no service process may die (each rides out the outage with its own capped,
jittered backoff), and the connections the server receives between its restart and the
run's recovery stay few (``INFO stats total_connections_received``: a reconnect storm
would be hundreds). At the end the whole log is checked as in the process-kill test.

``SCRAI_CHAOS_REDIS_ROUNDS`` rounds (default 3; the full run uses 20).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from scrai.embedded import EmbeddedRedis
from scrai.keys import Keys
from scrai.scenario.store import save_scenario
from tests.analytics.naive import assert_graph_equals_naive, recompute
from tests.chaos.pipeline import (
    Pipeline,
    chaos_scenario,
    check_log,
    check_memory,
    last_closed,
    size,
)
from tests.helpers import wait_for

ROUNDS = size("REDIS_ROUNDS", 3)
TICKS_PER_ROUND = 6
# Connections per round, all processes together: each service holds a pool of a few
# (blocking reads, a heartbeat, a publisher) and the API and spawner a few more.
MAX_CONNECTIONS_PER_ROUND = 80
# From the server's return to the run six ticks further on: every service's backoff is
# capped near a second, so a round that takes longer means some process waits too long.
MAX_RECOVERY_S = 3.5

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


async def acknowledged(client: aioredis.Redis, keys: Keys) -> dict:
    """What the server has answered so far: all of it must survive a SIGKILL."""
    # One MULTI/EXEC, so the length, the last id and the sequences are of one instant.
    async with client.pipeline(transaction=True) as tx:
        tx.xrevrange(keys.committed_events, count=1)
        tx.xlen(keys.committed_events)
        tx.hgetall(keys.agents_state)
        tx.incr(keys.analytics("chaos_probe"))
        last, length, states, counter = await tx.execute()
    return {
        "length": length,
        "last_id": last[0][0] if last else None,
        "commit_seq": {a: json.loads(s)["commit_seq"] for a, s in states.items()},
        "counter": counter,
    }


async def still_there(client: aioredis.Redis, keys: Keys, before: dict) -> None:
    assert await client.xlen(keys.committed_events) >= before["length"]
    if before["last_id"]:
        found = await client.xrange(keys.committed_events, before["last_id"], before["last_id"])
        assert found, f"acknowledged entry {before['last_id']} lost"
        count = len(await client.xrange(keys.committed_events, "-", before["last_id"]))
        assert count == before["length"], "entries before an acknowledged one lost"
    states = await client.hgetall(keys.agents_state)
    for agent, seq in before["commit_seq"].items():
        assert json.loads(states[agent])["commit_seq"] >= seq, agent
    assert int(await client.get(keys.analytics("chaos_probe")) or 0) >= before["counter"]


@pytest.mark.timeout(300 + ROUNDS * 40)
async def test_redis_sigkilled_and_restarted_rounds(
    tmp_path: Path, outage_server: EmbeddedRedis
) -> None:
    server = outage_server
    # The spawner keeps the short lease of the process-kill test (2 s): an outage outlives
    # it, and the spawner must take it back rather than give up its workers.
    pipeline = Pipeline(server.url, "redischaos", tmp_path / "run")
    keys = pipeline.keys
    scenario = chaos_scenario(10 * (ROUNDS * (TICKS_PER_ROUND + 4) + 20), deadline_s=2.0)
    # The test's own client: one connection, retried across the restart (it is counted too).
    client = aioredis.Redis.from_url(
        server.url, decode_responses=True, socket_timeout=5, max_connections=1,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=5),
    )  # fmt: skip
    figures: list[tuple[float, int]] = []
    rng = random.Random(ROUNDS)
    slow: list[float] = []  # recoveries (s after the restart) longer than MAX_RECOVERY_S

    async def progressed(past: int) -> bool:
        pipeline.poll()
        try:
            return await last_closed(client, keys) >= past
        except RedisError:
            return False

    await save_scenario(client, keys, scenario)
    async with pipeline.started():
        await wait_for(lambda: progressed(3), timeout_s=90, interval_s=0.05)
        for _ in range(ROUNDS):
            before = await acknowledged(client, keys)
            server.kill()
            down = time.monotonic()
            # The outage lasts a random while (a fault's length, not a wait for a condition),
            # so the services go through their backoff, not just one retry.
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            server.start()
            back = time.monotonic()
            await still_there(client, keys, before)
            resumed = await last_closed(client, keys)
            await wait_for(
                lambda r=resumed: progressed(r + TICKS_PER_ROUND), timeout_s=90, interval_s=0.05
            )
            recovery_s = time.monotonic() - down
            if time.monotonic() - back > MAX_RECOVERY_S:
                slow.append(round(time.monotonic() - back, 1))
            connections = (await client.info("stats"))["total_connections_received"]
            figures.append((recovery_s, connections))
            died = {c.name: c.history for c in pipeline.supervisor.children.values() if c.history}
            assert not died, f"processes died instead of riding out the outage: {died}"
            assert connections <= MAX_CONNECTIONS_PER_ROUND, connections

        await pipeline.wait_done(client)
        served = await pipeline.served_graph()

    try:
        facts = await check_log(client, keys, scenario)
        assert facts.ticks == scenario.simulation.max_ticks
        await check_memory(client, keys, scenario, facts.ticks)
        assert_graph_equals_naive(served, recompute(scenario, facts.log))
    finally:
        await client.aclose()
    recoveries = sorted(r for r, _ in figures)
    print(
        f"\nredis chaos: {ROUNDS} SIGKILL rounds (appendfsync always); outage + recovery to "
        f"+{TICKS_PER_ROUND} ticks: median {recoveries[len(recoveries) // 2]:.1f}s, max "
        f"{recoveries[-1]:.1f}s ({', '.join(f'{r:.1f}' for r, _ in figures)}); "
        f"connections per round: "
        f"max {max(c for _, c in figures)} (bound {MAX_CONNECTIONS_PER_ROUND}); "
        f"{facts.commits} commits, {facts.ticks} ticks, no acknowledged write lost"
    )
    assert not slow, f"rounds whose recovery took longer than {MAX_RECOVERY_S}s: {slow}"
