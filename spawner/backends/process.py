"""Workers as local processes, each in its own session, forked by the zygote.

The zygote (``spawner/zygote.py``) has the worker's code imported already, so a
worker starts in milliseconds instead of half a CPU-second. Every worker gets a
record file (pid, process start time, run id, agent id) in
``<data_dir>/spawner/<namespace>/``, so a restarted spawner finds the workers
it started before and adopts them. A record is trusted only when the pid is
still the same process (same start time in ``/proc``) running the worker for
that agent: a recycled pid is never adopted or killed.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scrai.settings import Settings
from spawner.backends.base import WorkerHandle, worker_args

STOP_GRACE_S = 5.0
ZYGOTE_REPLY_S = 60.0  # the first reply waits for the zygote's imports
EXIT_NOTICE_S = 0.5  # how long a worker found dead may take to be reported by the zygote


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
    """The words of ``pid``'s command line (a forked worker's is its title, NUL-padded)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.replace(b"\0", b" ").decode(errors="replace").split()


class Zygote:
    """The zygote's process (``spawner/zygote.py``); a thread reads its replies."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spawner.zygote"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.exits: dict[int, int] = {}  # pid -> exit code, of the workers it forked
        self.changed = threading.Condition()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._asking = threading.Lock()  # one request in flight
        threading.Thread(target=self._read, name="zygote-replies", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            if "exited" in message:
                with self.changed:
                    self.exits[message["exited"]] = message["code"]
                    self.changed.notify_all()
            else:
                self._replies.put(message)
        self._replies.put({"error": f"the worker zygote exited ({self.proc.wait()})"})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, request: dict[str, Any]) -> int:
        """Start a worker; its pid."""
        assert self.proc.stdin is not None
        with self._asking:
            try:
                self.proc.stdin.write(json.dumps(request).encode() + b"\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError) as exc:
                raise RuntimeError(f"the worker zygote is gone: {exc}") from None
            try:
                reply = self._replies.get(timeout=ZYGOTE_REPLY_S)
            except queue.Empty:
                raise RuntimeError("the worker zygote did not answer") from None
        if "error" in reply:
            raise RuntimeError(reply["error"])
        pid = int(reply["started"])
        with self.changed:
            self.exits.pop(pid, None)  # a recycled pid: its last holder's exit came first
        return pid

    def exit_code(self, pid: int, wait_s: float = 0.0) -> int | None:
        """How a worker it forked ended, waiting up to ``wait_s`` for the news; else None."""
        with self.changed:
            self.changed.wait_for(lambda: pid in self.exits or not self.alive(), wait_s)
            return self.exits.get(pid)

    def close(self) -> None:
        """Let it go (its workers keep running) and wait for it to exit."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ProcessBackend:
    """A local worker process per agent (or shard), forked by a :class:`Zygote`."""

    name = "process"

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self.records = Path(settings.data_dir) / "spawner" / (settings.namespace or "default")
        self.records.mkdir(parents=True, exist_ok=True)
        self._zygote: Zygote | None = None
        self._forked: set[int] = set()  # workers the current zygote forked
        self._starting = threading.Lock()

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

    def _fork(self, request: dict[str, Any]) -> int:
        with self._starting:
            if self._zygote is not None and not self._zygote.alive():
                self._zygote.close()  # killed: its workers live on, adopted like a spawner's
                self._zygote, self._forked = None, set()
            if self._zygote is None:
                self._zygote = Zygote()
            zygote = self._zygote
        pid = zygote.fork(request)
        self._forked.add(pid)
        return pid

    def start(self, agent_id: str, agents: Sequence[str] = ()) -> WorkerHandle:
        log = self.records / f"{agent_id}.log"
        pid = self._fork(
            {
                "argv": worker_args(agent_id, agents),
                "env": self._env(agent_id),
                "log": str(log),
                "title": f"scrai-worker {agent_id}",
            }
        )
        started_at = time.time()
        record = {
            "pid": pid,
            "proc_start": _proc_start_time(pid),
            "run_id": self.run_id,
            "agent_id": agent_id,
            "started_at": started_at,
        }
        path = self.records / f"{agent_id}.{pid}.json"
        path.write_text(json.dumps(record))
        return WorkerHandle(agent_id, str(pid), self.run_id, True, started_at)

    def _exit_code(self, pid: int, wait_s: float = 0.0) -> int | None:
        if self._zygote is None or pid not in self._forked:
            return None
        return self._zygote.exit_code(pid, wait_s)

    def _record_alive(self, record: dict[str, object]) -> bool:
        pid = int(record["pid"])  # type: ignore[call-overload]
        if self._exit_code(pid) is not None:
            return False
        start = _proc_start_time(pid)
        if start is None or (
            record.get("proc_start") is not None and start != record["proc_start"]
        ):
            return False  # gone, or the pid now belongs to another process
        return str(record["agent_id"]) in _proc_cmdline(pid)

    def list(self) -> list[WorkerHandle]:
        found = []
        for path in sorted(self.records.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            pid = int(record["pid"])
            alive = self._record_alive(record)
            detail = ""
            if not alive:
                # A worker of ours found dead a moment before the zygote reported it.
                code = self._exit_code(pid, EXIT_NOTICE_S)
                detail = "gone" if code is None else f"exited ({code})"
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
        self._forked.discard(pid)
        (self.records / f"{handle.agent_id}.{handle.handle}.json").unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        # Live workers keep running for the next spawner to adopt.
        with self._starting:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
