"""The ScrAI image, built from this checkout once per test session (and removed after it)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docker.engine import MISCOUNTED_NETWORKS, ROOT, SESSION, SESSION_LABEL, cleanup_session


@pytest.fixture(scope="session")
def scrai_image(docker_client: Any) -> Iterator[str]:
    """The ScrAI image built from this checkout's Dockerfile, once per session."""
    tag = f"scrai:test-{SESSION}"
    # A second, stable tag keeps the dependency layers cached for the next session.
    command = ["docker", "build", "-q", "-t", tag, "-t", "scrai:test-cache"]
    command += ["--label", f"{SESSION_LABEL}={SESSION}", str(ROOT)]
    build = subprocess.run(
        command,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    yield tag
    cleanup_session(docker_client)
    try:
        docker_client.images.remove(tag, force=True)
    except Exception:  # best effort: a later session builds it again
        pass


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the networks the engine kept for endpoints it miscounted (see ``Compose.down``)."""
    if MISCOUNTED_NETWORKS:
        terminalreporter.write_line(
            "the Docker engine kept these networks, with no container attached, for endpoints "
            f"it miscounted (moby/moby#42119; its restart frees them): {MISCOUNTED_NETWORKS}"
        )
