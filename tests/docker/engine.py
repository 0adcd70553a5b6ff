"""Helpers for tests on a real Docker engine: compose projects, session labels, polling.

Everything a test starts carries the label ``scrai.test-session=<id>`` (compose
services through an override file, worker containers through
``SCRAI_WORKER_LABELS``) and is removed by that label at the end, whatever the
tests left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from docker.errors import APIError, NotFound

from scrai.embedded import free_port
from tests.helpers import wait_for_sync

ROOT = Path(__file__).resolve().parents[2]
SESSION = uuid.uuid4().hex[:8]
SESSION_LABEL = "scrai.test-session"
# Networks the engine would not remove for endpoints it miscounted (see Compose.down).
MISCOUNTED_NETWORKS: list[str] = []
# How the Docker tests poll: four times a second (each poll asks the engine), and an
# error while a service is still starting counts as "not yet", not as a failure.
POLL: dict[str, Any] = {"interval_s": 0.25, "ignore": (OSError, redis_sync.RedisError)}


def compose_command() -> list[str]:
    """``docker compose`` (v2) if present, else ``docker-compose`` (1.29); or ``$SCRAI_COMPOSE``."""
    forced = os.environ.get("SCRAI_COMPOSE")
    if forced:
        return forced.split()
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed", pytrace=False)


def cleanup_session(client: Any) -> None:
    """Remove every service, container and network labelled with this session (best effort)."""
    label = {"label": f"{SESSION_LABEL}={SESSION}"}
    try:
        services = client.services.list(filters=label)
    except APIError:  # not a swarm manager: no services
        services = []
    for item in [*services, *client.containers.list(all=True, filters=label)]:
        try:
            item.remove(force=True) if hasattr(item, "status") else item.remove()
        except NotFound:
            pass
    for network in client.networks.list(filters=label):
        # A network is busy until the endpoints of the tasks just removed are gone.
        wait_for_sync(
            lambda n=network: _removed(n),
            30,
            what=f"network {network.name} removed",
            **POLL,
        )


def _removed(network: Any) -> bool:
    try:
        network.remove()
    except NotFound:
        return True
    except APIError as exc:
        if "not found" in str(exc):
            return True
        return False
    return True


class Compose:
    """One compose project of this checkout's docker-compose.yml, with a test override."""

    def __init__(self, image: str, scenario: str, workdir: Path) -> None:
        self.project = f"scraitest{SESSION}{uuid.uuid4().hex[:4]}"
        self.api_port = free_port()
        self.redis_port = free_port()
        self.override = workdir / "override.yml"
        services = ("redis", "world", "memory", "analytics", "api", "spawner", "agent-worker")
        spec: dict[str, Any] = {
            "version": "3.8",
            "services": {s: {"labels": {SESSION_LABEL: SESSION}} for s in services},
        }
        # Published on loopback only, so the test reads Redis directly.
        spec["services"]["redis"]["ports"] = [f"127.0.0.1:{self.redis_port}:6379"]
        self.override.write_text(json.dumps(spec))
        self.env = dict(os.environ)
        self.env.update(
            SCRAI_IMAGE=image,
            SCENARIO=scenario,
            SCRAI_API_PORT=str(self.api_port),
            SCRAI_API_TOKEN="test-token",
            SCRAI_WORKER_LABELS=json.dumps({SESSION_LABEL: SESSION}),
            SCRAI_NAMESPACE="",
        )

    def run(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        command = [
            *compose_command(),
            "-p", self.project,
            "-f", str(ROOT / "docker-compose.yml"),
            "-f", str(self.override),
            *args,
        ]  # fmt: skip
        return subprocess.run(
            command, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s
        )

    def up(self) -> None:
        result = self.run("up", "-d", "--no-build")
        assert result.returncode == 0, result.stderr[-3000:]

    def down(self) -> None:
        """``down -v``, asserted to remove every container of the project and its network.

        The engine may refuse the network for endpoints of no container left. Twice over:
        for a moment (a Docker 20.10 race, moby/moby#43286: a second ``down`` is what its
        users do), or for good when it lost count of the endpoints as many containers left
        at once (moby/moby#42119; its restart recounts them). The second is the engine's
        bookkeeping, not something ScrAI left: the network is named in
        :data:`MISCOUNTED_NETWORKS`, printed at the end of the session. A container still
        attached fails at once, named in the error."""
        result = self.run("down", "-v", "--timeout", "60")

        def network_freed() -> bool:
            nonlocal result
            if "has active endpoints" not in result.stderr:
                return True
            attached = self.attached()
            assert not attached, f"{result.stderr[-3000:]}\nstill attached: {attached}"
            result = self.run("down", "-v", "--timeout", "60")
            return "has active endpoints" not in result.stderr

        try:
            wait_for_sync(network_freed, 20, what="docker compose down", interval_s=1.0)
        except TimeoutError:
            assert not self.attached(), result.stderr[-3000:]
            MISCOUNTED_NETWORKS.append(self.network)
            return
        assert result.returncode == 0, result.stderr[-3000:]

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def attached(self) -> list[str]:
        """Names of the containers on this project's network, per the engine."""
        probe = subprocess.run(
            ["docker", "network", "inspect", self.network,
             "--format", "{{range .Containers}}{{.Name}} {{end}}"],
            capture_output=True, text=True,
        )  # fmt: skip
        return probe.stdout.split() if probe.returncode == 0 else []

    def container(self, client: Any, service: str) -> Any:
        [found] = client.containers.list(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={service}",
                ]
            },
        )
        return found

    def logs(self, *services: str) -> str:
        return self.run("logs", "--no-color", "--tail", "60", *services).stdout[-6000:]

    def redis(self) -> redis_sync.Redis:
        return redis_sync.Redis(port=self.redis_port, decode_responses=True, socket_timeout=10)


def session_workers(client: Any, *, running_only: bool = True, **labels: str) -> list[Any]:
    """Worker containers of this session (running ones by default), narrowed by more labels."""
    wanted = [f"{SESSION_LABEL}={SESSION}", "scrai.managed=true"]
    wanted += [f"{k}={v}" for k, v in labels.items()]
    filters: dict[str, Any] = {"label": wanted}
    if running_only:
        filters["status"] = "running"
    return client.containers.list(all=True, filters=filters)
