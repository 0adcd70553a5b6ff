"""``docker compose up`` of the default scenario on a real engine, then crashes, then ``down``.

The tests of this module share one compose project and run in order: the
stack comes up, an agent's container is killed, the spawner is killed, and
``down`` must leave nothing behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scrai.keys import Keys
from scrai.scenario.loader import load_scenario_file
from tests.docker.engine import MISCOUNTED_NETWORKS, POLL, ROOT, Compose, session_workers
from tests.helpers import wait_for_sync

# Generous per-test limits: the first test's setup builds the image and starts the stack.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(400)]

KEYS = Keys("")
AGENTS = sorted(a.id for a in load_scenario_file(ROOT / "scenarios/default.yml").agents)


@pytest.fixture(scope="module")
def stack(
    docker_client: Any, scrai_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Compose]:
    compose = Compose(scrai_image, "scenarios/default.yml", tmp_path_factory.mktemp("compose"))
    compose.up()
    yield compose
    compose.down()


def statuses(compose: Compose) -> dict[str, dict[str, Any]]:
    raw = compose.redis().hgetall(KEYS.worker_status)
    return {agent: json.loads(value) for agent, value in raw.items()}


def all_running(compose: Compose) -> dict[str, dict[str, Any]]:
    current = statuses(compose)
    ok = sorted(current) == AGENTS and all(s["state"] == "running" for s in current.values())
    return current if ok else {}


def committed_sequences(compose: Compose, agent_id: str) -> list[int]:
    entries = compose.redis().xrange(KEYS.committed_events)
    return [int(f["sequence"]) for _, f in entries if f.get("entity_id") == agent_id]


def commit_seq(compose: Compose, agent_id: str) -> int:
    raw = compose.redis().hget(KEYS.agents_state, agent_id)
    return int(json.loads(raw)["commit_seq"]) if raw else 0


def test_up_runs_one_container_per_agent_and_the_simulation(
    stack: Compose, docker_client: Any
) -> None:
    wait_for_sync(
        lambda: all_running(stack),
        120,
        what="every agent's worker running\n" + stack.logs(),
        **POLL,
    )
    workers = session_workers(docker_client)
    assert sorted(c.labels["scrai.agent-id"] for c in workers) == AGENTS
    run_id = stack.redis().hget(KEYS.spawner_meta, "run_id")
    assert {c.labels["scrai.run-id"] for c in workers} == {run_id}

    # Each worker: the ScrAI image on the compose network, limited, restarted by the spawner only.
    spec = workers[0].attrs
    assert spec["Config"]["Image"] == stack.env["SCRAI_IMAGE"]
    assert spec["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert spec["HostConfig"]["Memory"] == 256 * 1024 * 1024
    assert spec["HostConfig"]["NanoCpus"] == 500_000_000
    health_test = spec["Config"]["Healthcheck"]["Test"]
    assert health_test[-2:] == ["spawner.healthcheck", workers[0].labels["scrai.agent-id"]]
    assert f"{stack.project}_default" in spec["NetworkSettings"]["Networks"]
    assert spec["Config"]["User"] == "scrai"

    # The world commits every agent's actions; analytics turns them into a graph the API serves.
    redis = stack.redis()
    wait_for_sync(
        lambda: all(commit_seq(stack, a) >= 3 for a in AGENTS),
        120,
        what="every agent has committed events\n" + stack.logs("world"),
        **POLL,
    )
    assert redis.xlen(KEYS.committed_events) > len(AGENTS)

    def graph() -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{stack.api_port}/api/analytics", timeout=10)
        body = response.json() if response.status_code == 200 else {}
        return body if body.get("nodes") and body.get("links") else {}

    body = wait_for_sync(
        graph,
        120,
        what="a non-empty social graph\n" + stack.logs("analytics", "api"),
        **POLL,
    )
    assert {n["id"] for n in body["nodes"]} <= set(AGENTS)

    # The workers' healthcheck (their agent's liveness in Redis, probed inside the container).
    def healthy() -> bool:
        items = docker_client.api.containers(filters={"label": "scrai.managed=true"})
        mine = [i for i in items if i["Id"] in {c.id for c in workers}]
        return len(mine) == len(AGENTS) and all("(healthy)" in i["Status"] for i in mine)

    wait_for_sync(healthy, 120, what="every worker container healthy", **POLL)


def test_a_killed_agent_container_is_restarted_and_goes_on(
    stack: Compose, docker_client: Any
) -> None:
    before = wait_for_sync(lambda: all_running(stack), 60, what="workers running", **POLL)
    agent = AGENTS[0]
    [victim] = session_workers(docker_client, **{"scrai.agent-id": agent})
    seq_before = wait_for_sync(
        lambda: commit_seq(stack, agent),
        60,
        what=f"{agent} committing",
        **POLL,
    )
    victim.kill()

    def restarted() -> dict[str, Any]:
        now = all_running(stack)
        return now if now and now[agent]["restarts"] == before[agent]["restarts"] + 1 else {}

    after = wait_for_sync(
        restarted,
        60,
        what=f"{agent} restarted\n" + stack.logs("spawner"),
        **POLL,
    )
    assert after[agent]["handle"] != victim.id
    [replacement] = session_workers(docker_client, **{"scrai.agent-id": agent})
    assert replacement.id == after[agent]["handle"]
    # The agent goes on from where it was: its committed sequence continues, without a gap.
    wait_for_sync(
        lambda: commit_seq(stack, agent) >= seq_before + 3,
        90,
        what=f"{agent} acting again",
        **POLL,
    )
    sequences = committed_sequences(stack, agent)
    assert sequences == list(range(1, len(sequences) + 1))
    assert len(session_workers(docker_client)) == len(AGENTS)


def test_a_restarted_spawner_adopts_its_containers(stack: Compose, docker_client: Any) -> None:
    wait_for_sync(lambda: all_running(stack), 60, what="workers running", **POLL)
    ids_before = sorted(c.id for c in session_workers(docker_client))
    spawner = stack.container(docker_client, "spawner")
    spawner.kill()  # SIGKILL: no cleanup ran
    killed_at = time.time()
    assert sorted(c.id for c in session_workers(docker_client)) == ids_before
    spawner.start()

    def adopted() -> bool:
        meta = stack.redis().hgetall(KEYS.spawner_meta)
        # A new spawner publishes every status after its first pass: all written since the kill.
        current = statuses(stack)
        return float(meta.get("started_at", 0)) > killed_at and all(
            s.get("updated_at", 0) > killed_at for s in current.values()
        )

    wait_for_sync(
        adopted,
        90,
        what="the spawner back and reconciled\n" + stack.logs("spawner"),
        **POLL,
    )
    # Several passes later, still exactly the same containers: adopted, none duplicated.
    wait_for_sync(lambda: all_running(stack), 30, what="workers running", **POLL)
    assert sorted(c.id for c in session_workers(docker_client)) == ids_before
    assert len(session_workers(docker_client, running_only=False)) == len(AGENTS)


def test_down_leaves_no_container_or_network(stack: Compose, docker_client: Any) -> None:
    stack.down()
    project = {"label": f"com.docker.compose.project={stack.project}"}
    assert docker_client.containers.list(all=True, filters=project) == []
    assert session_workers(docker_client, running_only=False) == []
    left = [n.name for n in docker_client.networks.list() if n.name.startswith(stack.project)]
    # Gone, unless the engine lost count of its endpoints (see Compose.down).
    assert left == ([stack.network] if stack.network in MISCOUNTED_NETWORKS else [])
