"""Workers as Docker Swarm services: one single-replica service per agent, for a cluster.

The services carry the same labels as the docker backend's containers and use
restart condition ``none``: a task that ends is seen by the spawner, which
replaces the service with backoff and counts the restart, as for every backend.
The network must be an overlay network (attachable, so Redis and the spawner
can sit on it as plain containers too).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from docker.errors import APIError, NotFound
from docker.models.services import Service
from docker.types import EndpointSpec, Healthcheck, Resources, RestartPolicy

from spawner.backends.base import (
    LABEL_AGENT_ID,
    LABEL_MANAGED,
    LABEL_NAMESPACE,
    LABEL_RUN_ID,
    WorkerHandle,
)
from spawner.backends.spec import (
    EngineBackend,
    parse_time,
    worker_name,
    worker_spec,
)

# Task states on the way to running (or running): the service is still doing its job.
LIVE_TASK_STATES = {
    "new", "allocated", "pending", "assigned", "accepted",
    "preparing", "ready", "starting", "running",
}  # fmt: skip


class SwarmBackend(EngineBackend):
    """``docker service create`` of the worker per agent, through the Docker SDK."""

    name = "swarm"

    def service_name(self, agent_id: str) -> str:
        return worker_name(self.settings, self.run_id, agent_id)[:63]

    def start(self, agent_id: str, agents: Sequence[str] = ()) -> WorkerHandle:
        spec = worker_spec(self.settings, self.run_id, agent_id, agents, self.network)
        name = self.service_name(agent_id)
        try:
            self.client.services.get(name).remove()  # a dead predecessor of the same name
        except NotFound:
            pass
        service = self.client.services.create(
            spec.image,
            command=spec.command,
            name=name,
            env=[f"{k}={v}" for k, v in spec.env.items()],
            labels=spec.labels,
            container_labels=spec.labels,
            networks=[spec.network] if spec.network else [],
            resources=Resources(cpu_limit=spec.nano_cpus, mem_limit=spec.mem_bytes),
            restart_policy=RestartPolicy(condition="none"),
            healthcheck=Healthcheck(**spec.healthcheck),
            # No virtual IP: nothing calls a worker.
            endpoint_spec=EndpointSpec(mode="dnsrr"),
            stop_grace_period=spec.stop_grace_s * 1_000_000_000,
        )
        return WorkerHandle(agent_id, service.id, self.run_id, True, time.time())

    def _handle(self, service: Service, states: list[str]) -> WorkerHandle:
        labels = service.attrs.get("Spec", {}).get("Labels", {}) or {}
        # A brand-new service may have no task yet: it is on its way, not dead.
        alive = not states or any(s in LIVE_TASK_STATES for s in states)
        detail = "" if alive else "task " + ",".join(sorted(set(states)))
        return WorkerHandle(
            agent_id=labels.get(LABEL_AGENT_ID, ""),
            handle=service.id,
            run_id=labels.get(LABEL_RUN_ID, ""),
            alive=alive,
            started_at=parse_time(service.attrs.get("CreatedAt", "")),
            detail=detail,
            extra={"name": service.name},
        )

    def _task_states(self) -> dict[str, list[str]]:
        """Service id -> the states of its tasks, from one call for the whole swarm."""
        states: dict[str, list[str]] = {}
        for task in self.client.api.tasks():
            states.setdefault(task["ServiceID"], []).append(task["Status"]["State"])
        return states

    def list(self) -> list[WorkerHandle]:
        labels = [f"{LABEL_MANAGED}=true", f"{LABEL_NAMESPACE}={self.namespace_label}"]
        services = self.client.services.list(filters={"label": labels})
        states = self._task_states() if services else {}
        return [self._handle(s, states.get(s.id, [])) for s in services]

    def stop(self, handle: WorkerHandle) -> None:
        try:
            self.client.services.get(handle.handle).remove()
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 404:
                raise
