"""Container healthcheck: exit 0 when the agent's liveness entry in Redis is fresh.

``python -m spawner.healthcheck AGENT_ID`` (worker containers), or
``python -m spawner.healthcheck --component world`` (a service's heartbeat key).
Standard library only (a plain RESP exchange over a socket): it runs every few
seconds in every worker container, so it must start in milliseconds.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from io import BufferedIOBase
from urllib.parse import unquote, urlparse

from scrai.keys import Keys  # stdlib-only module: cheap to import


def _command(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(stream: BufferedIOBase) -> bytes | None:
    line = stream.readline()
    if line[:1] == b"$":
        size = int(line[1:])
        return None if size < 0 else stream.read(size + 2)[:-2]
    if line[:1] == b"-":
        raise RuntimeError(line.decode().strip())
    return line[1:].strip()


def query(redis_url: str, *command: str, timeout_s: float = 3.0) -> bytes | None:
    """Send one command to the server at ``redis_url`` (db and password honoured); its reply."""
    url = urlparse(redis_url)
    host, port = url.hostname or "localhost", url.port or 6379
    with socket.create_connection((host, port), timeout_s) as sock:
        stream = sock.makefile("rwb")
        if url.password:
            user = [unquote(url.username)] if url.username else []
            stream.write(_command("AUTH", *user, unquote(url.password)))
        stream.write(_command("SELECT", (url.path or "/0").lstrip("/") or "0"))
        stream.write(_command(*command))
        stream.flush()
        if url.password:
            _reply(stream)
        _reply(stream)
        return _reply(stream)


def main(argv: list[str]) -> int:
    """``AGENT_ID``: its alive entry is fresh; ``--component NAME``: its health key exists."""
    url, namespace = os.environ.get("SCRAI_REDIS_URL", ""), os.environ.get("SCRAI_NAMESPACE", "")
    try:
        if argv[:1] == ["--component"]:
            if query(url, "EXISTS", Keys(namespace).health(argv[1])) != b"1":
                print(f"unhealthy: no heartbeat from {argv[1]}", file=sys.stderr)
                return 1
            return 0
        agent_id = argv[0] if argv else os.environ.get("SCRAI_AGENT_ID", "")
        score = query(url, "ZSCORE", Keys(namespace).agents_alive, agent_id)
        expiry = float(score) if score else None
    except (OSError, IndexError, RuntimeError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if expiry is None or expiry < time.time():
        print(f"unhealthy: {agent_id} not alive in Redis", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
