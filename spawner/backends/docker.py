"""Workers as Docker containers: one per agent, from the ScrAI image, on the compose network.

Containers carry the labels of :mod:`spawner.backends.base`, memory and CPU
limits, a healthcheck that reads the agent's liveness in Redis, and restart
policy ``no``: the spawner restarts them itself, with backoff, and reports it.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import docker
from docker.errors import APIError, NotFound

from scrai.settings import Settings
from spawner.backends.base import (
    LABEL_AGENT_ID,
    LABEL_MANAGED,
    LABEL_NAMESPACE,
    LABEL_RUN_ID,
    WorkerHandle,
    worker_args,
    worker_labels,
)

log = logging.getLogger(__name__)
STOP_GRACE_S = 5
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_EXIT_CODE = re.compile(r"Exited \((-?\d+)\)")


def _parse_time(value: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds) to epoch seconds."""
    if not value or value.startswith("0001-"):
        return 0.0
    head, _, frac = value.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head + "+00:00").timestamp()
    return moment + (float(f"0.{frac}") if frac else 0.0)


def _summary_handle(item: dict[str, Any]) -> WorkerHandle:
    """A worker from one entry of the engine's container list."""
    labels = item.get("Labels") or {}
    state, status = item.get("State", ""), item.get("Status", "")
    unhealthy = "(unhealthy)" in status
    # An unhealthy container is as good as dead: its agent stopped answering. "created" is
    # not alive either: the spawner lists and starts in turn, so it is a start that failed.
    alive = state in ("running", "restarting") and not unhealthy
    if alive:
        detail = ""
    elif unhealthy:
        detail = "unhealthy"
    else:
        code = _EXIT_CODE.search(status)
        detail = f"{state} ({code.group(1) if code else '?'})"
    return WorkerHandle(
        agent_id=labels.get(LABEL_AGENT_ID, ""),
        handle=item["Id"],
        run_id=labels.get(LABEL_RUN_ID, ""),
        alive=alive,
        started_at=float(item.get("Created") or 0),
        detail=detail,
        extra={"name": (item.get("Names") or ["/"])[0].lstrip("/")},
    )


# Sparse and patient on purpose: every probe is a `docker exec`, which costs real CPU; a
# hundred workers probing every few seconds on a busy machine time out, turn unhealthy
# and get restarted, which makes the machine busier still. Nanoseconds, as the API wants.
HEALTH = {
    "interval": 30_000_000_000,
    "timeout": 10_000_000_000,
    "retries": 3,
    "start_period": 120_000_000_000,
}


def healthcheck_command(agent_id: str) -> list[str]:
    return ["CMD", "python", "-m", "spawner.healthcheck", agent_id]


def worker_env(settings: Settings, run_id: str, agent_id: str) -> dict[str, str]:
    return {
        "SCRAI_REDIS_URL": settings.worker_redis_url or settings.redis_url or "",
        "SCRAI_NAMESPACE": settings.namespace,
        "SCRAI_SPAWNER_RUN_ID": run_id,
        "SCRAI_AGENT_ID": agent_id,
        "SCRAI_HEALTH_TTL_S": str(settings.health_ttl_s),
        "PYTHONUNBUFFERED": "1",
    }


def discover_network(client: docker.DockerClient) -> str | None:
    """The first user network of the container this process runs in (its hostname), if any."""
    try:
        me = client.containers.get(socket.gethostname())
    except (NotFound, APIError):
        return None
    networks = me.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    user = [n for n in networks if n not in ("bridge", "host", "none")]
    return sorted(user)[0] if user else None


class DockerBackend:
    """``docker run`` of ``run_agent_worker.py --agent-id ID`` per agent through the Docker SDK."""

    name = "docker"

    def __init__(
        self, settings: Settings, run_id: str, client: docker.DockerClient | None = None
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.client = client or docker.from_env(timeout=60)
        self.network = settings.docker_network or discover_network(self.client)
        self.namespace_label = settings.namespace or "-"
        url = urlparse(settings.worker_redis_url or settings.redis_url or "")
        if url.hostname in ("127.0.0.1", "localhost", "::1") and self.network != "host":
            log.warning(
                "workers get Redis at %s, their own loopback inside a container: set "
                "SCRAI_DOCKER_NETWORK=host or SCRAI_WORKER_REDIS_URL",
                url.hostname,
            )
        try:
            self.client.images.get(settings.image)
        except NotFound:
            raise RuntimeError(
                f"no image {settings.image!r} on this engine: build it (docker build -t "
                f"{settings.image} .) or set SCRAI_IMAGE"
            ) from None

    def container_name(self, agent_id: str) -> str:
        ns = _NAME_UNSAFE.sub("_", self.settings.namespace or "default")
        return f"scrai-{ns}-{self.run_id[:8]}-{agent_id}"

    def start(self, agent_id: str, agents: Sequence[str] = ()) -> WorkerHandle:
        name = self.container_name(agent_id)
        self._remove_by_name(name)  # a dead predecessor of the same name would block the create
        container = self.client.containers.run(
            self.settings.image,
            command=["python", "run_agent_worker.py", *worker_args(agent_id, agents)],
            name=name,
            detach=True,
            environment=worker_env(self.settings, self.run_id, agent_id),
            labels=worker_labels(
                self.settings.namespace, self.run_id, agent_id, self.settings.worker_labels
            ),
            # "host": the host's network (``scrai up --backend docker`` with a loopback Redis).
            network=None if self.network == "host" else self.network,
            network_mode="host" if self.network == "host" else None,
            mem_limit=self.settings.worker_mem_limit,
            nano_cpus=int(self.settings.worker_cpus * 1e9),
            restart_policy={"Name": "no"},
            healthcheck={"test": healthcheck_command(agents[0] if agents else agent_id), **HEALTH},
            stop_signal="SIGTERM",
            init=True,  # tini as pid 1: signals reach Python, zombies are reaped
        )
        return WorkerHandle(agent_id, container.id, self.run_id, True, time.time())

    def _remove_by_name(self, name: str) -> None:
        try:
            self.client.containers.get(name).remove(force=True)
        except NotFound:
            pass

    def _summaries(self, **filters: object) -> list[WorkerHandle]:
        # The list endpoint alone (one call), not an inspect per container: this runs every
        # second against engines busy starting a hundred containers.
        items = self.client.api.containers(all=True, filters=filters)
        return [_summary_handle(item) for item in items]

    def list(self) -> list[WorkerHandle]:
        labels = [f"{LABEL_MANAGED}=true", f"{LABEL_NAMESPACE}={self.namespace_label}"]
        return self._summaries(label=labels)

    def is_alive(self, handle: WorkerHandle) -> bool:
        found = self._summaries(id=handle.handle)
        return bool(found) and found[0].alive

    def stop(self, handle: WorkerHandle) -> None:
        try:
            container = self.client.containers.get(handle.handle)
        except NotFound:
            return
        try:
            if container.status == "running":
                container.stop(timeout=STOP_GRACE_S)
            container.remove(force=True)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # removal already in progress
                raise

    def close(self) -> None:
        self.client.close()
