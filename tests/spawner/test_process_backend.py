"""The spawner with local worker processes: one per agent, restarted, adopted, removed.

Real spawner and worker processes against the session's real Redis server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from scrai.keys import Keys
from scrai.scenario.loader import load_scenario_file
from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from spawner.backends.process import ProcessBackend
from tests.helpers import pid_alive, processes_with_env, wait_for
from tests.spawner.harness import AGENTS, SpawnerProcess

pytestmark = pytest.mark.slow


async def statuses(redis: aioredis.Redis, keys: Keys) -> dict[str, dict]:
    return {a: json.loads(v) for a, v in (await redis.hgetall(keys.worker_status)).items()}


async def all_running(redis: aioredis.Redis, keys: Keys, agents: list[str] = AGENTS) -> dict:
    current = await statuses(redis, keys)
    ok = sorted(current) == sorted(agents) and all(
        s["state"] == "running" and s["handle"] for s in current.values()
    )
    return current if ok else {}


async def all_alive(redis: aioredis.Redis, keys: Keys) -> bool:
    """Every agent's worker keeps its entry in the alive set fresh."""
    return set(AGENTS) <= set(await redis.zrangebyscore(keys.agents_alive, time.time(), "+inf"))


async def test_one_worker_per_agent_and_all_removed_on_stop(
    process_spawner: SpawnerProcess, redis: aioredis.Redis, keys: Keys
) -> None:
    process_spawner.start()
    running = await wait_for(lambda: all_running(redis, keys), 30)
    pids = sorted(int(s["handle"]) for s in running.values())
    assert pids == process_spawner.worker_pids()
    for agent, status in running.items():
        pid = int(status["handle"])
        # Forked by the zygote, each named for its agent in ps and top, in its own session.
        title = (await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)).split(b"\0")
        assert title[0] == f"scrai-worker {agent}".encode()
        assert os.getsid(pid) == pid
    assert all(s["backend"] == "process" and s["restarts"] == 0 for s in running.values())
    # The workers are real: each keeps its agent alive in Redis.
    await wait_for(lambda: all_alive(redis, keys), 30)
    # The scenario was stored for the world, with the run record.
    assert await redis.exists(keys.scenario)
    meta = await redis.hgetall(keys.spawner_meta)
    assert meta["backend"] == "process" and meta["run_id"]

    assert process_spawner.terminate() == 0, process_spawner.output()
    assert not any(pid_alive(p) for p in pids)
    assert process_spawner.worker_pids() == []
    assert not await redis.exists(keys.worker_status, keys.spawner_meta)


async def test_restarts_a_killed_worker_and_adopts_after_its_own_restart(
    process_spawner: SpawnerProcess, redis: aioredis.Redis, keys: Keys
) -> None:
    process_spawner.start()
    before = await wait_for(lambda: all_running(redis, keys), 30)
    victim = int(before["bob"]["handle"])
    os.killpg(victim, signal.SIGKILL)

    async def restarted() -> dict:
        now = await all_running(redis, keys)
        return now if now and now["bob"]["restarts"] == 1 else {}

    after = await wait_for(restarted, 30)
    assert after["bob"]["handle"] != str(victim) and not pid_alive(victim)
    assert after["bob"]["last_exit"] == f"exited (-{signal.SIGKILL.value})"
    assert {a: after[a]["handle"] for a in ("ann", "cyd")} == {
        a: before[a]["handle"] for a in ("ann", "cyd")
    }
    run_id = (await redis.hgetall(keys.spawner_meta))["run_id"]

    # The spawner crashes; its workers keep running, and a new spawner adopts them.
    process_spawner.kill()
    workers = process_spawner.worker_pids()
    assert len(workers) == 3 and all(pid_alive(p) for p in workers)
    # Its zygote goes with it: what is left of the run is the workers.
    run = f"SCRAI_NAMESPACE={keys.namespace}"
    await wait_for(lambda: sorted(processes_with_env(run)) == workers, 10)
    await redis.hset(keys.worker_status, "ann", json.dumps({"state": "stale"}))
    process_spawner.start()
    adopted = await wait_for(lambda: all_running(redis, keys), 30)
    assert (await redis.hgetall(keys.spawner_meta))["run_id"] == run_id
    assert sorted(int(s["handle"]) for s in adopted.values()) == workers
    assert process_spawner.worker_pids() == workers  # nothing new was started

    assert process_spawner.terminate() == 0, process_spawner.output()
    assert not any(pid_alive(p) for p in workers)


async def test_follows_the_stored_scenario_when_agents_are_removed(
    process_spawner: SpawnerProcess, redis: aioredis.Redis, keys: Keys, scenario_file: Path
) -> None:
    process_spawner.start()
    before = await wait_for(lambda: all_running(redis, keys), 30)
    scenario = load_scenario_file(scenario_file)
    smaller = scenario.model_copy(update={"agents": [a for a in scenario.agents if a.id != "cyd"]})
    await save_scenario(redis, keys, smaller)
    await wait_for(lambda: all_running(redis, keys, ["ann", "bob"]), 30)
    await wait_for(lambda: not pid_alive(int(before["cyd"]["handle"])), 10)
    assert len(process_spawner.worker_pids()) == 2


def test_a_recycled_pid_is_neither_adopted_nor_killed(settings: Settings) -> None:
    backend = ProcessBackend(settings, "run-x")
    # A record naming this very test process, with another start time: a recycled pid.
    record = {"pid": os.getpid(), "proc_start": 1, "run_id": "run-x", "agent_id": "ann"}
    (backend.records / f"ann.{os.getpid()}.json").write_text(json.dumps(record))
    [handle] = backend.list()
    assert not handle.alive and handle.detail == "gone"
    backend.stop(handle)  # removes the record, signals nothing (we are still here)
    assert backend.list() == []


async def test_a_bad_scenario_file_is_a_clear_error(
    spawner_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nworld: {places: []}\nagents: [{id: a, name: A, place: nowhere}]\n")
    spawner = SpawnerProcess(
        spawner_env, ["--scenario", str(bad)], tmp_path, tmp_path / "bad.log"
    ).start()
    assert spawner.process is not None
    assert spawner.process.wait(timeout=30) == 2
    assert "nowhere" in spawner.output()


async def test_a_large_cast_runs_in_shards_when_asked(
    process_spawner: SpawnerProcess, redis: aioredis.Redis, keys: Keys
) -> None:
    process_spawner.env["SCRAI_SPAWNER_AGENTS_PER_WORKER"] = "2"
    process_spawner.start()
    running = await wait_for(lambda: all_running(redis, keys), 30)
    assert {s["worker"] for s in running.values()} == {"shard-0000-of-0002", "shard-0001-of-0002"}
    assert running["ann"]["handle"] == running["bob"]["handle"] != running["cyd"]["handle"]
    assert len(process_spawner.worker_pids()) == 2
    await wait_for(lambda: all_alive(redis, keys), 30)
    assert process_spawner.terminate() == 0, process_spawner.output()


async def test_a_second_spawner_waits_for_the_lease_then_adopts(
    process_spawner: SpawnerProcess,
    make_process_spawner: Callable[..., SpawnerProcess],
    redis: aioredis.Redis,
    keys: Keys,
) -> None:
    process_spawner.start()
    await wait_for(lambda: all_running(redis, keys), 30)
    workers = process_spawner.worker_pids()
    second = make_process_spawner().start()  # the same scenario, records and Redis
    await wait_for(lambda: "another spawner holds" in second.output(), 30)
    assert process_spawner.worker_pids() == workers  # it started nothing meanwhile
    process_spawner.kill()
    killed_at = time.time()
    assert second.process is not None

    async def taken_over() -> bool:
        # Its first pass is done when every status was written after the kill.
        meta = await redis.hgetall(keys.spawner_meta)
        running = await all_running(redis, keys)
        fresh = running and all(s["updated_at"] > killed_at for s in running.values())
        return meta.get("pid") == str(second.process.pid) and bool(fresh)

    await wait_for(taken_over, 30)
    assert process_spawner.worker_pids() == workers  # adopted, not duplicated
    assert second.terminate() == 0, second.output()
    assert not any(pid_alive(p) for p in workers)
