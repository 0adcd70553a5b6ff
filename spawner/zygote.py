"""``python -m spawner.zygote``: agent workers forked from a process that has their code.

A new interpreter spends about half a CPU-second importing a worker's code (pydantic,
redis-py, the scenario models, the agent's mind) before it does anything, so a
scenario's workers starting at once held a laptop's two cores for seconds. The zygote
imports that code once, then forks each worker from itself: the child starts with it
loaded, and shares those pages with its siblings until it writes them.

The process backend runs it and speaks lines of JSON with it. On stdin, one request
per worker: ``{"argv": [...], "env": {...}, "log": PATH, "title": TEXT}``. On stdout,
for each request ``{"started": PID}`` or ``{"error": TEXT}``, and ``{"exited": PID,
"code": N}`` whenever a worker ends (``-N`` when signal N ended it, as in subprocess).
It exits when its stdin closes (the spawner is gone); the workers, each in its own
session, keep running for the next spawner to adopt.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any


def _reply(out: int, message: dict[str, Any]) -> None:
    # One write per line: the SIGCHLD handler's lines never cut into a reply.
    os.write(out, json.dumps(message).encode() + b"\n")


def _reap(out: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _reply(out, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _become_worker(
    request: dict[str, Any], out: int, main: Callable[[list[str]], None], title: Callable
) -> None:
    """In the forked child: take the request's session, files, environment and title, run."""
    code = 1
    try:
        os.setsid()  # its own process group: the backend signals the worker's whole tree
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(out)
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        sys.stdin = open(os.devnull)  # not the zygote's stdin, with requests in its buffer
        os.environ.clear()
        os.environ.update(request["env"])
        title(request["title"])
        sys.argv = ["run_agent_worker.py", *request["argv"]]
        main(request["argv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def serve() -> None:
    # A title must not overwrite the environment block: /proc/PID/environ stays readable.
    os.environ["SPT_NOENV"] = "1"
    from setproctitle import setproctitle

    from scrai.agents.entry import main  # the point of this process: imported once, here

    setproctitle("scrai-worker-zygote")  # also sets the module up: in a child it would not

    gc.collect()
    gc.freeze()  # the children's collections never walk (nor copy) what is shared
    out = os.dup(1)  # replies; in a child, fd 1 becomes its log
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the spawner's to handle
    signal.signal(signal.SIGCHLD, lambda *_: _reap(out))
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (OSError, ValueError) as exc:
            _reply(out, {"error": str(exc)})
            continue
        if pid == 0:
            _become_worker(request, out, main, setproctitle)
        _reply(out, {"started": pid})


if __name__ == "__main__":
    serve()
