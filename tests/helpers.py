"""Small helpers shared by the test suite."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from scrai.events import ActionEvent, ActionPayload, Idle

T = TypeVar("T")

Condition = Callable[[], T | Awaitable[T]]
Errors = tuple[type[BaseException], ...]


class _Deadline:
    """The bookkeeping both waiters share: what is awaited, until when, the last value."""

    def __init__(self, timeout_s: float, what: str, ignore: Errors) -> None:
        self.timeout_s, self.what, self.ignore = timeout_s, what, ignore
        self.at = time.monotonic() + timeout_s
        self.last: Any = None

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """One evaluation of the condition; an ``ignore``d exception counts as "not yet"."""
        try:
            yield
        except self.ignore as exc:
            self.last = exc

    def met(self) -> bool:
        """Whether the last value holds; fails the test once the deadline has passed."""
        if self.last and not isinstance(self.last, BaseException):
            return True
        if time.monotonic() >= self.at:
            last = f"last value: {self.last!r}"
            raise TimeoutError(f"{self.what}: not met in {self.timeout_s}s ({last})")
        return False


async def wait_for(
    cond: Condition[T],
    timeout_s: float = 10.0,
    *,
    interval_s: float = 0.01,
    what: str = "condition",
    ignore: Errors = (),
) -> T:
    """Poll ``cond`` (sync or async) until it returns something truthy; return that value.

    Fails the test with ``TimeoutError`` naming ``what`` after ``timeout_s``; exceptions
    of the types in ``ignore`` (a service still starting) count as "not yet". This awaits
    a condition, it does not sleep for a guessed time: it returns as soon as it holds.
    """
    deadline = _Deadline(timeout_s, what, ignore)
    while True:
        with deadline.attempt():
            result = cond()
            deadline.last = await result if inspect.isawaitable(result) else result
        if deadline.met():
            return deadline.last  # type: ignore[no-any-return]
        await asyncio.sleep(interval_s)


def wait_for_sync(
    cond: Callable[[], T],
    timeout_s: float = 10.0,
    *,
    interval_s: float = 0.05,
    what: str = "condition",
    ignore: Errors = (),
) -> T:
    """:func:`wait_for` for tests that cannot await (Playwright's and Docker's sync APIs)."""
    deadline = _Deadline(timeout_s, what, ignore)
    while True:
        with deadline.attempt():
            deadline.last = cond()
        if deadline.met():
            return deadline.last  # type: ignore[no-any-return]
        time.sleep(interval_s)


async def run_scrai(env: dict[str, str], *args: str, timeout_s: float = 60) -> tuple[int, str]:
    """Run the ``scrai`` command as a user would; its exit code and output (with stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrai", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    return proc.returncode or 0, out.decode()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The command name (field 2) may hold spaces: the state follows its closing ")".
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def processes_with_env(entry: str) -> list[int]:
    """Live processes (not this one) whose environment holds ``entry``, e.g. ``"NAME=value"``.

    Tests mark the processes of a run with an environment variable that every
    descendant inherits, then find what is left of the run with this.
    """
    wanted = entry.encode()
    found = []
    for path in Path("/proc").iterdir():
        if not path.name.isdigit() or int(path.name) == os.getpid():
            continue
        try:
            env = (path / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in env and pid_alive(int(path.name)):
            found.append(int(path.name))
    return found


def idle_events(n: int, *, start: int = 1) -> list[ActionEvent]:
    """``n`` distinct idle action events (sequence/tick ``start``..), for filling streams."""
    return [
        ActionEvent(
            entity_id=f"agent-{i % 7}", sequence=i, tick=i, payload=ActionPayload(action=Idle())
        )
        for i in range(start, start + n)
    ]
