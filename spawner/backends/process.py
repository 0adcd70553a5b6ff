"""Workers as local child processes, each in its own process group.

Every worker gets a record file (pid, process start time, run id, agent id) in
``<data_dir>/spawner/<namespace>/``, so a restarted spawner finds the workers
it started before and adopts them. A record is trusted only when the pid is
still the same process (same start time in ``/proc``) running the worker for
that agent: a recycled pid is never adopted or killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scrai.settings import Settings
from spawner.backends.base import WorkerHandle, worker_args

ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 5.0


def worker_script() -> Path:
    """``run_agent_worker.py`` of this checkout, else of the working directory (the image)."""
    for candidate in (ROOT / "run_agent_worker.py", Path.cwd() / "run_agent_worker.py"):
        if candidate.exists():
            return candidate
    return ROOT / "run_agent_worker.py"


def _proc_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot; None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _proc_cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


class ProcessBackend:
    """``python run_agent_worker.py --agent-id ID`` per agent, each in a new session."""

    name = "process"

    def __init__(
        self, settings: Settings, run_id: str, *, command: list[str] | None = None
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.command = command or [sys.executable, str(worker_script())]
        self.records = Path(settings.data_dir) / "spawner" / (settings.namespace or "default")
        self.records.mkdir(parents=True, exist_ok=True)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def _env(self, agent_id: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SCRAI_REDIS_URL=self.settings.worker_redis_url or self.settings.redis_url or "",
            SCRAI_NAMESPACE=self.settings.namespace,
            SCRAI_SPAWNER_RUN_ID=self.run_id,
            SCRAI_AGENT_ID=agent_id,
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, agent_id: str, agents: Sequence[str] = ()) -> WorkerHandle:
        log = open(self.records / f"{agent_id}.log", "ab")
        try:
            child = subprocess.Popen(
                [*self.command, *worker_args(agent_id, agents)],
                env=self._env(agent_id),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals the whole tree
            )
        finally:
            log.close()
        self._children[child.pid] = child
        started_at = time.time()
        record = {
            "pid": child.pid,
            "proc_start": _proc_start_time(child.pid),
            "run_id": self.run_id,
            "agent_id": agent_id,
            "started_at": started_at,
        }
        path = self.records / f"{agent_id}.{child.pid}.json"
        path.write_text(json.dumps(record))
        return WorkerHandle(agent_id, str(child.pid), self.run_id, True, started_at)

    def _record_alive(self, record: dict[str, object]) -> bool:
        pid = int(record["pid"])  # type: ignore[call-overload]
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        start = _proc_start_time(pid)
        if start is None or (
            record.get("proc_start") is not None and start != record["proc_start"]
        ):
            return False  # gone, or the pid now belongs to another process
        cmdline = _proc_cmdline(pid)
        return str(record["agent_id"]) in cmdline

    def list(self) -> list[WorkerHandle]:
        found = []
        for path in sorted(self.records.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            pid = int(record["pid"])
            alive = self._record_alive(record)
            child = self._children.get(pid)
            detail = (
                f"exited ({child.returncode})" if child and not alive else ("" if alive else "gone")
            )
            found.append(
                WorkerHandle(
                    agent_id=record["agent_id"],
                    handle=str(pid),
                    run_id=record["run_id"],
                    alive=alive,
                    started_at=float(record.get("started_at", 0.0)),
                    detail=detail,
                )
            )
        return found

    def _record(self, handle: WorkerHandle) -> dict[str, object] | None:
        path = self.records / f"{handle.agent_id}.{handle.handle}.json"
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None

    def stop(self, handle: WorkerHandle) -> None:
        pid = int(handle.handle)
        record = self._record(handle)
        if record is not None and self._record_alive(record):
            self._signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while time.monotonic() < deadline and self._record_alive(record):
                time.sleep(0.02)
            # Whatever is left of the group (the worker or anything it started) goes now.
            self._signal_group(pid, signal.SIGKILL)
        child = self._children.pop(pid, None)
        if child is not None:
            child.wait()
        (self.records / f"{handle.agent_id}.{handle.handle}.json").unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        # Reap children already dead; live ones keep running for the next spawner to adopt.
        for child in self._children.values():
            child.poll()
