"""Container healthcheck: exit 0 when the agent's liveness entry in Redis is fresh.

``python -m spawner.healthcheck AGENT_ID``. Standard library only (a plain RESP
exchange over a socket): it runs every few seconds in every worker container,
so it must start in milliseconds.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from urllib.parse import unquote, urlparse

from scrai.keys import Keys  # stdlib-only module: cheap to import


def _command(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(stream: socket.SocketIO) -> bytes | None:
    line = stream.readline()
    if line[:1] == b"$":
        size = int(line[1:])
        return None if size < 0 else stream.read(size + 2)[:-2]
    if line[:1] == b"-":
        raise RuntimeError(line.decode().strip())
    return line[1:].strip()


def alive_expiry(
    redis_url: str, namespace: str, agent_id: str, timeout_s: float = 3.0
) -> float | None:
    """The agent's expiry in the alive sorted set (``Keys.agents_alive``), None when absent."""
    url = urlparse(redis_url)
    key = Keys(namespace).agents_alive
    with socket.create_connection(
        (url.hostname or "localhost", url.port or 6379), timeout_s
    ) as sock:
        stream = sock.makefile("rwb")
        if url.password:
            auth = (
                [unquote(url.username), unquote(url.password)]
                if url.username
                else [unquote(url.password)]
            )
            stream.write(_command("AUTH", *auth))
        db = (url.path or "/0").lstrip("/") or "0"
        stream.write(_command("SELECT", db))
        stream.write(_command("ZSCORE", key, agent_id))
        stream.flush()
        if url.password:
            _reply(stream)
        _reply(stream)
        score = _reply(stream)
    return float(score) if score else None


def main(argv: list[str]) -> int:
    agent_id = argv[0] if argv else os.environ.get("SCRAI_AGENT_ID", "")
    try:
        expiry = alive_expiry(
            os.environ["SCRAI_REDIS_URL"], os.environ.get("SCRAI_NAMESPACE", ""), agent_id
        )
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if expiry is None or expiry < time.time():
        print(f"unhealthy: {agent_id} not alive in Redis", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
