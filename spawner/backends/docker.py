"""Workers as Docker containers: one per agent, from the ScrAI image, on the compose network.

Containers carry the labels of :mod:`spawner.backends.base`, memory and CPU
limits, a healthcheck that reads the agent's liveness in Redis, and restart
policy ``no``: the spawner restarts them itself, with backoff, and reports it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import docker
from docker.errors import APIError, NotFound

from scrai.settings import Settings
from spawner.backends.base import (
    LABEL_AGENT_ID,
    LABEL_MANAGED,
    LABEL_NAMESPACE,
    LABEL_RUN_ID,
    WorkerHandle,
)
from spawner.backends.spec import (
    STOP_GRACE_S,
    EngineBackend,
    WorkerSpec,
    worker_spec,
)

_EXIT_CODE = re.compile(r"Exited \((-?\d+)\)")


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


class DockerBackend(EngineBackend):
    """``docker run`` of ``run_agent_worker.py --agent-id ID`` per agent through the Docker SDK."""

    name = "docker"

    def __init__(
        self, settings: Settings, run_id: str, client: docker.DockerClient | None = None
    ) -> None:
        super().__init__(settings, run_id, client)
        try:
            self.client.images.get(settings.image)
        except NotFound:
            raise RuntimeError(
                f"no image {settings.image!r} on this engine: build it (docker build -t "
                f"{settings.image} .) or set SCRAI_IMAGE"
            ) from None

    def start(self, agent_id: str, agents: Sequence[str] = ()) -> WorkerHandle:
        spec = worker_spec(self.settings, self.run_id, agent_id, agents, self.network)
        try:
            container_id = self._create(spec)
        except APIError as exc:
            if exc.status_code != 409:
                raise
            # A dead predecessor of the same name blocks the create: rare, so looked up only
            # then (two calls per start, create and start, is what a hundred starts cost).
            self._remove_by_name(spec.name)
            container_id = self._create(spec)
        self.client.api.start(container_id)
        return WorkerHandle(agent_id, container_id, self.run_id, True, time.time())

    def _create(self, spec: WorkerSpec) -> str:
        """``POST /containers/create`` of the spec: the low-level call, without the SDK's
        inspect after it (the high-level ``run`` costs two more round trips per worker)."""
        api = self.client.api
        host = spec.network == "host"  # the host's network: ``scrai up`` with a loopback Redis
        host_config = api.create_host_config(
            network_mode="host" if host else spec.network,
            mem_limit=spec.mem_bytes,
            nano_cpus=spec.nano_cpus,
            restart_policy={"Name": "no"},
            init=True,  # tini as pid 1: signals reach Python, zombies are reaped
        )
        networking = None
        if spec.network and not host:
            networking = api.create_networking_config({spec.network: api.create_endpoint_config()})
        created = api.create_container(
            spec.image,
            command=spec.command,
            name=spec.name,
            environment=spec.env,
            labels=spec.labels,
            host_config=host_config,
            networking_config=networking,
            healthcheck=spec.healthcheck,
            stop_signal="SIGTERM",
            detach=True,
        )
        return str(created["Id"])

    def _remove_by_name(self, name: str) -> None:
        try:
            self.client.api.remove_container(name, force=True)
        except NotFound:
            pass

    def _summaries(self, **filters: object) -> list[WorkerHandle]:
        # The list endpoint alone (one call), not an inspect per container: this runs every
        # second against engines busy starting a hundred containers.
        items = self.client.api.containers(all=True, filters=filters)
        return [_summary_handle(item) for item in items]

    def list(self) -> list[WorkerHandle]:
        labels = [f"{LABEL_MANAGED}=true", f"{LABEL_NAMESPACE}={self.namespace_label}"]
        if self.network and self.network != "host":
            # Two deployments on one engine may share a namespace (two compose projects with
            # the default one): only the workers on our network are ours, or each spawner
            # would remove the other's as orphans of another run.
            return self._summaries(label=labels, network=self.network)
        return self._summaries(label=labels)

    def stop(self, handle: WorkerHandle) -> None:
        api = self.client.api
        try:
            if handle.alive or handle.detail == "unhealthy":  # still running: a graceful stop
                api.stop(handle.handle, timeout=STOP_GRACE_S)
            api.remove_container(handle.handle, force=True)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # removal already in progress
                raise
