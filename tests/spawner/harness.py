"""A small scenario and a spawner process to start, kill and restart, for spawner tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

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


def scrai_up_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment (no SCRAI_* of the caller) with a namespace of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAI_")}
    env.update(PYTHONPATH=str(ROOT), SCRAI_NAMESPACE=f"up{tmp_path.name[-8:]}")
    return env


def scrai_up(backend: str, scenario: Path, data_dir: Path, env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "scrai", "up", str(scenario), "--ticks", "3"]
    command += ["--port", "0", "--data-dir", str(data_dir), "--backend", backend]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=110)
    spawner_log = (data_dir / "logs" / "spawner.log").read_text()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + spawner_log
    assert "3 agents alive" in result.stdout and "finished its last tick" in result.stdout
    return spawner_log
