"""Child processes that are restarted when they die and all stopped together.

Each child runs in its own session (so a Ctrl-C at the terminal reaches only the
launcher, which then stops the children in order) and asks the kernel to send it
SIGTERM if the launcher itself dies, so no process outlives a run. Stopping sends
SIGTERM to each child's whole process group, waits a grace period, then SIGKILLs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long starts its backoff over


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the process group still lets us stop it
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    # Exit codes after which the child is done, not crashed (e.g. the world's last tick).
    final_codes: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    exit_code: int | None = None
    done: bool = False
    history: list[int] = field(default_factory=list)


class Supervisor:
    """Starts children, restarts the ones that die (with backoff), stops them all."""

    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.say = say
        self.children: dict[str, Child] = {}
        self.stopping = False

    def start(self, child: Child) -> Child:
        self.children[child.name] = child
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(child.log_path, "ab") as log:
            child.proc = subprocess.Popen(
                child.argv,
                env=child.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup,  # the launcher starts no threads
            )
        child.started_at, child.restart_at, child.exit_code = time.monotonic(), None, None

    def poll(self) -> list[Child]:
        """Notice exits and due restarts; returns the children that exited since the last poll."""
        exited = []
        now = time.monotonic()
        for child in self.children.values():
            if child.proc is not None and child.restart_at is None and not child.done:
                code = child.proc.poll()
                if code is None:
                    continue
                child.exit_code = code
                child.history.append(code)
                exited.append(child)
                if code in child.final_codes or self.stopping:
                    child.done = True
                    continue
                if now - child.started_at > STABLE_AFTER_S:
                    child.restarts = 0
                delay = min(MAX_BACKOFF_S, 0.5 * 2**child.restarts)
                child.restarts += 1
                child.restart_at = now + delay
                self.say(
                    f"{child.name} exited with code {code}; restarting in {delay:.1f}s "
                    f"(restart {child.restarts}; log: {child.log_path})"
                )
            elif child.restart_at is not None and now >= child.restart_at and not self.stopping:
                self._spawn(child)
                self.say(f"{child.name} restarted")
        return exited

    def signal_all(self, signum: int, names: list[str] | None = None) -> None:
        for child in self.children.values():
            if names is not None and child.name not in names:
                continue
            if child.proc is not None and child.proc.poll() is None:
                try:
                    os.killpg(child.proc.pid, signum)
                except ProcessLookupError:
                    pass

    def stop(self, names: list[str] | None = None, *, grace_s: float = 10.0) -> None:
        """SIGTERM (to whole process groups), wait up to ``grace_s``, then SIGKILL."""
        self.stopping = True
        self.signal_all(signal.SIGTERM, names)
        deadline = time.monotonic() + grace_s
        targets = [c for c in self.children.values() if names is None or c.name in names]
        while time.monotonic() < deadline and any(
            c.proc and c.proc.poll() is None for c in targets
        ):
            time.sleep(0.05)
        self.kill(names)

    def kill(self, names: list[str] | None = None) -> None:
        """SIGKILL whatever is left, and reap it (also any process left in the groups)."""
        for child in self.children.values():
            if (names is not None and child.name not in names) or child.proc is None:
                continue
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.proc.wait()
            child.done = True
