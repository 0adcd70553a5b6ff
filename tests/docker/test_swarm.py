"""The swarm backend on a real one-node Docker Swarm: one service per agent, replaced when it dies.

The node joins a swarm for this module (``docker swarm init --advertise-addr
127.0.0.1``) and leaves it afterwards, unless it was a swarm manager already.
Redis runs as a plain container on an attachable overlay network, published on
loopback for the spawner, which runs here as a process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync

from scrai.embedded import free_port
from scrai.keys import Keys
from tests.docker.engine import POLL, ROOT, SESSION, SESSION_LABEL, cleanup_session
from tests.helpers import wait_for_sync
from tests.spawner.harness import AGENTS, SMALL_SCENARIO, SpawnerProcess

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]
KEYS = Keys("")


@pytest.fixture(scope="module")
def swarm(docker_client: Any) -> Iterator[Any]:
    joined_here = docker_client.info()["Swarm"]["LocalNodeState"] != "active"
    if joined_here:
        docker_client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    try:
        yield docker_client
    finally:
        cleanup_session(docker_client)
        if joined_here:
            docker_client.swarm.leave(force=True)
            # swarm init made this bridge; nothing else of ours uses it.
            for network in docker_client.networks.list(names=["docker_gwbridge"]):
                network.remove()


@pytest.fixture(scope="module")
def overlay(swarm: Any) -> Iterator[tuple[str, str, int]]:
    """(network name, Redis container name on it, Redis port on loopback)."""
    network = swarm.networks.create(
        f"scraitest{SESSION}net",
        driver="overlay",
        attachable=True,
        labels={SESSION_LABEL: SESSION},
    )
    port = free_port()
    name = f"scraitest{SESSION}redis"
    swarm.containers.run(
        "redis:7",
        ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""],
        name=name,
        detach=True,
        network=network.name,
        ports={"6379/tcp": ("127.0.0.1", port)},
        labels={SESSION_LABEL: SESSION},
    )
    yield network.name, name, port
    cleanup_session(swarm)


def services_of_session(client: Any) -> list[Any]:
    return client.services.list(filters={"label": [f"{SESSION_LABEL}={SESSION}"]})


def test_one_service_per_agent_replaced_when_it_dies_and_removed_on_stop(
    swarm: Any, overlay: tuple[str, str, int], scrai_image: str, tmp_path: Path
) -> None:
    network, redis_name, port = overlay
    redis = redis_sync.Redis(port=port, decode_responses=True, socket_timeout=10)
    wait_for_sync(redis.ping, 30, what="redis on the overlay network", **POLL)
    scenario = tmp_path / "small.yml"
    scenario.write_text(SMALL_SCENARIO)
    env = dict(os.environ)
    env.update(
        SCRAI_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        SCRAI_WORKER_REDIS_URL=f"redis://{redis_name}:6379/0",
        SCRAI_NAMESPACE="",
        SCRAI_IMAGE=scrai_image,
        SCRAI_DOCKER_NETWORK=network,
        SCRAI_WORKER_LABELS=json.dumps({SESSION_LABEL: SESSION}),
        SCRAI_SPAWNER_RECONCILE_INTERVAL_S="0.5",
        SCRAI_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
    )
    spawner = SpawnerProcess(
        env,
        ["--backend", "swarm", "--scenario", str(scenario)],
        tmp_path,
        tmp_path / "spawner.log",
    ).start()
    try:
        _exercise(swarm, redis, spawner)
    finally:
        spawner.cleanup()


def _statuses(redis: redis_sync.Redis) -> dict[str, dict[str, Any]]:
    return {a: json.loads(v) for a, v in redis.hgetall(KEYS.worker_status).items()}


def _exercise(client: Any, redis: redis_sync.Redis, spawner: SpawnerProcess) -> None:
    def running() -> dict[str, dict[str, Any]]:
        current = _statuses(redis)
        ok = sorted(current) == AGENTS and all(s["state"] == "running" for s in current.values())
        return current if ok else {}

    def all_alive() -> bool:
        return set(AGENTS) <= set(redis.zrangebyscore(KEYS.agents_alive, time.time(), "+inf"))

    before = wait_for_sync(running, 120, what="services running\n" + spawner.output(), **POLL)
    services = services_of_session(client)
    assert sorted(s.attrs["Spec"]["Labels"]["scrai.agent-id"] for s in services) == AGENTS
    assert all(s["backend"] == "swarm" for s in before.values())
    # The workers in the swarm really run: they keep their agents alive in Redis.
    wait_for_sync(
        all_alive,
        120,
        what="workers alive in Redis\n" + spawner.output(),
        **POLL,
    )

    # Kill the task's container: the spawner replaces the service and counts the restart.
    victim = next(s for s in services if s.attrs["Spec"]["Labels"]["scrai.agent-id"] == "bob")
    [container] = client.containers.list(
        filters={"label": f"com.docker.swarm.service.id={victim.id}"}
    )
    container.kill()

    def replaced() -> dict[str, dict[str, Any]]:
        now = running()
        return now if now and now["bob"]["restarts"] == 1 else {}

    after = wait_for_sync(
        replaced,
        120,
        what="bob's service replaced\n" + spawner.output(),
        **POLL,
    )
    assert after["bob"]["handle"] != victim.id
    assert len(services_of_session(client)) == len(AGENTS)

    assert spawner.terminate(timeout_s=60) == 0, spawner.output()
    assert services_of_session(client) == []
