"""Fixtures for the spawner: a small scenario file and a spawner process to start, kill, restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrai.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

SMALL_SCENARIO = """
name: Spawner test
seed: 7
world:
  places:
    - {id: a, name: A, position: [0, 0], neighbors: [b]}
    - {id: b, name: B, position: [5, 0]}
agents:
  - {id: ann, name: Ann, place: a}
  - {id: bob, name: Bob, place: b}
  - {id: cyd, name: Cyd, place: a}
simulation:
  tick_interval_s: 0.2
  tick_deadline_s: 2.0
"""
AGENTS = ["ann", "bob", "cyd"]


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yml"
    path.write_text(SMALL_SCENARIO)
    return path


class SpawnerProcess:
    """``python -m spawner`` as a child process of the test, with its workers' records."""

    def __init__(self, env: dict[str, str], args: list[str], records: Path, log: Path) -> None:
        self.env, self.args, self.records, self.log = env, args, records, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SpawnerProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "spawner", *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would: the workers (own sessions) live on."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout=timeout_s)

    def worker_pids(self) -> list[int]:
        return sorted(json.loads(p.read_text())["pid"] for p in self.records.glob("*.json"))

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.worker_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def spawner_env(subprocess_env: dict[str, str], settings: Settings) -> dict[str, str]:
    env = dict(subprocess_env)
    env.update(
        SCRAI_DATA_DIR=str(settings.data_dir),
        SCRAI_SPAWNER_RECONCILE_INTERVAL_S="0.2",
        SCRAI_SPAWNER_BACKOFF_BASE_S="0.2",
        SCRAI_SPAWNER_BACKOFF_MAX_S="1.0",
        SCRAI_HEALTH_TTL_S="5",
    )
    env.pop("SCENARIO", None)
    return env


@pytest.fixture
def process_spawner(
    spawner_env: dict[str, str], settings: Settings, scenario_file: Path, tmp_path: Path
) -> Iterator[SpawnerProcess]:
    records = Path(settings.data_dir) / "spawner" / settings.namespace
    spawner = SpawnerProcess(
        spawner_env,
        ["--backend", "process", "--scenario", str(scenario_file)],
        records,
        tmp_path / "spawner.log",
    )
    yield spawner
    spawner.cleanup()
