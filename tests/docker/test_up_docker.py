"""``scrai up --backend docker``: the spawner runs each agent in a container, then removes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.docker.engine import SESSION, SESSION_LABEL
from tests.spawner.harness import AGENTS, SMALL_SCENARIO, scrai_up, scrai_up_env

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]


def test_scrai_up_runs_docker_workers_through_the_spawner(
    docker_client: Any, scrai_image: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "small.yml"
    scenario.write_text(SMALL_SCENARIO)
    env = scrai_up_env(tmp_path)
    env.update(SCRAI_IMAGE=scrai_image, SCRAI_WORKER_LABELS=json.dumps({SESSION_LABEL: SESSION}))
    log = scrai_up("docker", scenario, tmp_path / "run", env)
    assert "with the docker backend" in log and f"stopped {len(AGENTS)} workers" in log
    namespace = f"scrai.namespace={env['SCRAI_NAMESPACE']}"
    assert docker_client.containers.list(all=True, filters={"label": namespace}) == []
