"""`python -m scrai.api` serves the API and the dashboard, with a fresh token when none is set."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from scrai.embedded import free_port


@pytest.mark.slow
def test_python_m_scrai_api_prints_a_token_and_serves(subprocess_env: dict[str, str]) -> None:
    port = free_port()
    env = dict(subprocess_env, SCRAI_API_PORT=str(port))
    env.pop("SCRAI_API_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrai.api"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "#token=" in line:
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert found.wait(30), "".join(lines)
        token = re.search(r"#token=(\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        assert f"this run's token is: {token}" in "".join(lines)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "".join(lines)
                time.sleep(0.05)
        assert health.status_code == 200 and health.json()["redis"] is True
        assert "<html" in httpx.get(f"{base}/").text.lower()
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{base}/api/simulation/pause").status_code == 401
        assert httpx.post(f"{base}/api/simulation/pause", headers=bearer).status_code == 202

        # A browser listening to the live stream does not hold the server up on SIGTERM.
        listening = threading.Event()

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{base}/api/live", timeout=30) as live:
                    for _ in live.iter_lines():
                        listening.set()
            except httpx.HTTPError:
                pass  # the server closed it: what we want

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert listening.wait(10)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
