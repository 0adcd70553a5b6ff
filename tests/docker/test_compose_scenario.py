"""``SCENARIO=scenarios/smallville.yml docker compose up``: another cast, no code change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scrai.keys import Keys
from scrai.scenario.loader import load_scenario_file
from tests.docker.engine import POLL, ROOT, Compose, session_workers
from tests.helpers import wait_for_sync

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(400)]
KEYS = Keys("")


def test_the_scenario_comes_from_the_environment(
    docker_client: Any, scrai_image: str, tmp_path: Path
) -> None:
    agents = sorted(a.id for a in load_scenario_file(ROOT / "scenarios/smallville.yml").agents)
    compose = Compose(scrai_image, "scenarios/smallville.yml", tmp_path)
    compose.up()
    try:
        redis = compose.redis()

        def committed() -> set[str]:
            states = redis.hgetall(KEYS.agents_state)
            done = {a for a, s in states.items() if json.loads(s).get("commit_seq", 0) >= 1}
            return done if done >= set(agents) else set()

        wait_for_sync(
            committed,
            240,
            what="every Smallville agent committed\n" + compose.logs("spawner"),
            **POLL,
        )
        assert json.loads(redis.get(KEYS.scenario))["name"] == "Smallville"
        workers = session_workers(docker_client)
        assert sorted(c.labels["scrai.agent-id"] for c in workers) == agents
    finally:
        compose.down()
    assert session_workers(docker_client, running_only=False) == []
