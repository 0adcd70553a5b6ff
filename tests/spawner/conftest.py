"""Fixtures for the spawner: a small scenario file and a spawner process (see harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scrai.settings import Settings
from tests.spawner.harness import SMALL_SCENARIO, SpawnerProcess


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yml"
    path.write_text(SMALL_SCENARIO)
    return path


@pytest.fixture
def spawner_env(subprocess_env: dict[str, str], settings: Settings) -> dict[str, str]:
    env = dict(subprocess_env)
    env.update(
        SCRAI_DATA_DIR=str(settings.data_dir),
        SCRAI_SPAWNER_RECONCILE_INTERVAL_S="0.2",
        SCRAI_SPAWNER_BACKOFF_BASE_S="0.2",
        SCRAI_SPAWNER_BACKOFF_MAX_S="1.0",
        SCRAI_HEALTH_TTL_S="5",
        SCRAI_SPAWNER_LEASE_TTL_S="2",
    )
    env.pop("SCENARIO", None)
    return env


@pytest.fixture
def make_process_spawner(
    spawner_env: dict[str, str], settings: Settings, scenario_file: Path, tmp_path: Path
) -> Iterator[Callable[..., SpawnerProcess]]:
    """Builds (not starts) process-backend spawners on the test's scenario; ``env``
    overrides the spawner environment. All are killed, with their workers, after the test."""
    made: list[SpawnerProcess] = []
    records = Path(settings.data_dir) / "spawner" / settings.namespace

    def make(env: dict[str, str] | None = None) -> SpawnerProcess:
        spawner = SpawnerProcess(
            {**spawner_env, **(env or {})},
            ["--backend", "process", "--scenario", str(scenario_file)],
            records,
            tmp_path / f"spawner{len(made) or ''}.log",
        )
        made.append(spawner)
        return spawner

    yield make
    for spawner in made:
        spawner.cleanup()


@pytest.fixture
def process_spawner(make_process_spawner: Callable[..., SpawnerProcess]) -> SpawnerProcess:
    return make_process_spawner()
