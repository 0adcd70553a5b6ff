"""A real simulation (`scrai up` as a subprocess) and a real Chromium looking at it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from scrai.embedded import free_port
from tests.helpers import wait_for_sync

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass
class Run:
    """A running `scrai up`: where its dashboard is, and how to talk to its API."""

    base: str
    token: str
    output: list[str] = field(default_factory=list)

    @property
    def dashboard(self) -> str:
        return f"{self.base}/#token={self.token}"

    def api(self, path: str, **params: object) -> dict:
        return httpx.get(f"{self.base}{path}", params=params, timeout=10).json()  # type: ignore[arg-type]

    def control(self, action: str, body: dict | None = None) -> None:
        r = httpx.post(f"{self.base}/api/simulation/{action}", json=body or {}, timeout=10,
                       headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        r.raise_for_status()


@contextmanager
def scrai_up(
    env: dict[str, str],
    port: int,
    data_dir: Path,
    *args: str,
    scenario: str = "scenarios/default.yml",
) -> Iterator[Run]:
    """`scrai up SCENARIO --port PORT ARGS...` as a subprocess, stopped (Ctrl-C) on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrai", "up", scenario, "--port", str(port),
         "--data-dir", str(data_dir), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its children form one group we can stop together
    )  # fmt: skip
    output: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip())
            m = re.search(r"dashboard: (http://\S+)/#token=(\S+)", line)
            if m:
                found.update(base=m.group(1), token=m.group(2))
                ready.set()
        ready.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        if not ready.wait(90) or not found:
            raise AssertionError("scrai up printed no dashboard URL:\n" + "\n".join(output[-40:]))
        run = Run(base=found["base"], token=found["token"], output=output)
        wait_for_sync(lambda: answers(run, "/healthz"), 30, what="the API", interval_s=0.1)
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        thread.join(10)
        if proc.stdout is not None:
            proc.stdout.close()


def up_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `scrai up` on the test server, in a namespace of its own."""
    env = dict(os.environ)
    env.pop("SCRAI_API_TOKEN", None)  # scrai generates one and prints it with the URL
    env.update(
        SCRAI_REDIS_URL=redis_url,
        SCRAI_NAMESPACE=f"b{uuid.uuid4().hex[:10]}",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def run(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """`scrai up scenarios/default.yml` on the test server, in its own namespace."""
    data_dir = tmp_path_factory.mktemp("scrai-up")
    with scrai_up(up_env(redis_url), free_port(), data_dir) as up:
        yield up


def answers(run: Run, path: str) -> bool:
    try:
        return httpx.get(f"{run.base}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Page:
    page: object
    errors: list[str]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path


@pytest.fixture
def page(browser: object) -> Iterator[Page]:
    """A laptop-sized page that records every console error and uncaught exception."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    pg = context.new_page()
    errors: list[str] = []
    pg.on(
        "console",
        lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    # The console says a request failed but not which: name it.
    pg.on(
        "response",
        lambda r: errors.append(f"http {r.status}: {r.url}") if r.status >= 400 else None,
    )
    yield Page(pg, errors)
    context.close()
