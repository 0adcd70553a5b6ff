"""``python -m analytics`` as a real process: SIGKILLed mid-stream and restarted; the CLI."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import networkx as nx
import pytest

from tests.analytics.runs import folded_tables, publish_run, stored_tables
from tests.analytics.synth import World
from tests.helpers import processes_with_env, run_scrai, wait_for
from tests.scenarios import grid_town

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


async def start(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    # the log goes to a file: a pipe nobody reads would block a chatty child
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "analytics",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )


async def events_folded(redis, keys) -> int:
    return int(await redis.hget(keys.analytics("meta"), "events") or 0)


async def test_sigkill_mid_stream_and_restart_give_the_same_tables(
    redis, keys, subprocess_env, tmp_path
) -> None:
    world = World(grid_town(agents=12)).random_run(250, seed=99)
    total = len(world.committed)
    env = {**subprocess_env, "SCRAI_ANALYTICS_BATCH_SIZE": "16", "SCRAI_CONSUMER_BLOCK_MS": "50"}
    log = world.committed

    # started before there is a scenario: it reports alive and waits for one
    proc = await start(env, tmp_path / "analytics.log")
    await wait_for(lambda: redis.get(keys.health("analytics")), timeout_s=60)
    assert await redis.hget(keys.analytics("meta"), "position") is None
    await publish_run(redis, keys, world)

    kills = []
    for fraction in (0.1, 0.3, 0.5, 0.7):
        if proc.returncode is not None:
            proc = await start(env, tmp_path / "analytics.log")
        target = int(total * fraction)
        folded = await wait_for(
            lambda target=target: _at_least(redis, keys, target), timeout_s=60, interval_s=0.002
        )
        proc.send_signal(signal.SIGKILL)  # no chance to finish the batch in flight
        await proc.wait()
        kills.append(folded)
    assert kills == sorted(kills) and kills[-1] < total, kills

    proc = await start(env, tmp_path / "analytics.log")
    await wait_for(lambda: _at_least(redis, keys, total), timeout_s=60)
    rejected_last = (await redis.xrevrange(keys.rejected_events, count=1))[0][0]
    await wait_for(
        lambda: _equals(redis, keys.analytics("meta"), "rejected_position", rejected_last), 30
    )
    # the background task (in its own process) computed metrics for the last tick and said so
    last_tick = str(world.committed[-1].tick)
    await wait_for(lambda: _equals(redis, keys.analytics("metrics"), "tick", last_tick), 60)
    updates = await redis.xrevrange(keys.analytics_updates, count=50)
    assert any(f["kind"] == "metrics" and f["tick"] == last_tick for _, f in updates)
    assert await redis.get(keys.health("analytics"))
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0, (tmp_path / "analytics.log").read_text()[-2000:]

    # no metrics worker outlived its (killed) analytics process
    assert await wait_for(
        lambda: not processes_with_env(f"SCRAI_NAMESPACE={keys.namespace}"), timeout_s=20
    )

    world.committed = log
    ids = [sid for sid, _ in await redis.xrange(keys.committed_events)]
    assert await stored_tables(redis, keys) == folded_tables(world, ids)
    assert (await redis.xpending(keys.committed_events, "analytics"))["pending"] == 0


async def _at_least(redis, keys, n: int) -> int | None:
    folded = await events_folded(redis, keys)
    return folded if folded >= n else None


async def _equals(redis, key: str, field: str, value: str) -> bool:
    return await redis.hget(key, field) == value


async def test_cli_rebuild_and_export(redis, keys, settings, subprocess_env, tmp_path) -> None:
    from tests.analytics.runs import drain

    world = World(grid_town(agents=8)).random_run(30, seed=4)
    await publish_run(redis, keys, world)
    await drain(redis, keys, settings)
    code, out = await run_scrai(subprocess_env, "analytics", "rebuild")
    assert code == 0 and "equal the rebuilt" in out, out
    await redis.hdel(keys.analytics("edges"), (await redis.hkeys(keys.analytics("edges")))[0])
    code, out = await run_scrai(subprocess_env, "analytics", "rebuild")
    assert code == 1 and "edges: 1 differ" in out, out
    code, out = await run_scrai(subprocess_env, "analytics", "rebuild", "--swap")
    assert code == 0 and "swapped" in out, out

    path = tmp_path / "town.gexf"
    code, out = await run_scrai(
        subprocess_env, "export", "graph", "--format", "gexf", "--out", str(path)
    )
    assert code == 0, out
    g = nx.read_gexf(path)
    assert g.number_of_nodes() == 8 and g.number_of_edges() == await redis.hlen(
        keys.analytics("edges")
    )
    code, out = await run_scrai(subprocess_env, "export", "graph", "--format", "csv")
    assert code == 0 and out.startswith("tick,source,target,weight")
