"""``scrai up --backend process|docker`` starts the agent workers through the spawner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.spawner.harness import AGENTS, scrai_up, scrai_up_env

pytestmark = pytest.mark.slow


def test_scrai_up_runs_process_workers_through_the_spawner(
    scenario_file: Path, tmp_path: Path
) -> None:
    up_env = scrai_up_env(tmp_path)
    log = scrai_up("process", scenario_file, tmp_path / "run", up_env)
    assert "with the process backend" in log and f"stopped {len(AGENTS)} workers" in log
    records = tmp_path / "run" / "spawner" / up_env["SCRAI_NAMESPACE"]
    assert sorted(p.stem for p in records.glob("*.log")) == AGENTS  # one worker log per agent
    assert list(records.glob("*.json")) == []  # every worker removed
