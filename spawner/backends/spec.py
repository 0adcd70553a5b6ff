"""What a worker container is, whichever engine API runs it: one home for the docker and
swarm backends.

:func:`worker_spec` turns the settings and one worker's identity into a
:class:`WorkerSpec` (image, command, environment, labels, limits, healthcheck,
network, name); :mod:`spawner.backends.docker` hands it to the container API,
:mod:`spawner.backends.swarm` to the service API. Neither adds anything of its
own to what a worker is.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import docker
from docker.errors import APIError, NotFound
from docker.utils import parse_bytes

from scrai.settings import Settings
from spawner.backends.base import worker_args, worker_labels

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
STOP_GRACE_S = 5

# Sparse and patient on purpose: every probe is a `docker exec`, which costs real CPU; a
# hundred workers probing every few seconds on a busy machine time out, turn unhealthy
# and get restarted, which makes the machine busier still. Nanoseconds, as the API wants.
HEALTH = {
    "interval": 30_000_000_000,
    "timeout": 10_000_000_000,
    "retries": 3,
    "start_period": 120_000_000_000,
}


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """One worker container: everything the engine needs to run it."""

    name: str
    image: str
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    mem_bytes: int
    nano_cpus: int
    healthcheck: dict[str, Any]  # test + HEALTH timings, in the engine API's shape
    network: str | None  # a user network, "host", or None (the engine's default)
    stop_grace_s: int = STOP_GRACE_S


def worker_env(settings: Settings, run_id: str, agent_id: str) -> dict[str, str]:
    """The environment a worker needs (its Redis, namespace, run and agent), nothing else."""
    return {
        "SCRAI_REDIS_URL": settings.worker_redis_url or settings.redis_url or "",
        "SCRAI_NAMESPACE": settings.namespace,
        "SCRAI_SPAWNER_RUN_ID": run_id,
        "SCRAI_AGENT_ID": agent_id,
        "SCRAI_HEALTH_TTL_S": str(settings.health_ttl_s),
        "PYTHONUNBUFFERED": "1",
    }


def healthcheck_command(agent_id: str) -> list[str]:
    return ["CMD", "python", "-m", "spawner.healthcheck", agent_id]


def worker_name(settings: Settings, run_id: str, agent_id: str) -> str:
    """``scrai-<namespace>-<run>-<agent>``, with only the characters engines accept."""
    ns = settings.namespace or "default"
    return _NAME_UNSAFE.sub("_", f"scrai-{ns}-{run_id[:8]}-{agent_id}")


def worker_spec(
    settings: Settings,
    run_id: str,
    agent_id: str,
    agents: Sequence[str] = (),
    network: str | None = None,
) -> WorkerSpec:
    """The container of worker ``agent_id`` (hosting ``agents`` when it is a shard)."""
    return WorkerSpec(
        name=worker_name(settings, run_id, agent_id),
        image=settings.image,
        command=["python", "run_agent_worker.py", *worker_args(agent_id, agents)],
        env=worker_env(settings, run_id, agent_id),
        labels=worker_labels(settings.namespace, run_id, agent_id, settings.worker_labels),
        mem_bytes=parse_bytes(settings.worker_mem_limit),
        nano_cpus=int(settings.worker_cpus * 1e9),
        healthcheck={"test": healthcheck_command(agents[0] if agents else agent_id), **HEALTH},
        network=network,
    )


def parse_time(value: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds) to epoch seconds."""
    if not value or value.startswith("0001-"):
        return 0.0
    head, _, frac = value.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head + "+00:00").timestamp()
    return moment + (float(f"0.{frac}") if frac else 0.0)


def discover_network(client: Any) -> str | None:
    """The first user network of the container this process runs in (its hostname), if any."""
    try:
        me = client.containers.get(socket.gethostname())
    except (NotFound, APIError):
        return None
    networks = me.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    user = [n for n in networks if n not in ("bridge", "host", "none")]
    return sorted(user)[0] if user else None


class EngineBackend:
    """What the docker and swarm backends share: the engine client, the workers' network
    and the namespace label their workers are listed by."""

    def __init__(
        self, settings: Settings, run_id: str, client: docker.DockerClient | None = None
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.client = client or docker.from_env(timeout=60)
        self.network = settings.docker_network or discover_network(self.client)
        self.namespace_label = settings.namespace or "-"
        warn_if_loopback_redis(settings, self.network, logging.getLogger(type(self).__module__))

    def close(self) -> None:
        self.client.close()


def warn_if_loopback_redis(settings: Settings, network: str | None, log: logging.Logger) -> None:
    """Say so when workers would look for Redis on their own loopback, inside a container."""
    host = urlparse(settings.worker_redis_url or settings.redis_url or "").hostname
    if host in ("127.0.0.1", "localhost", "::1") and network != "host":
        log.warning(
            "workers get Redis at %s, their own loopback inside a container: set "
            "SCRAI_WORKER_REDIS_URL to an address they reach (or SCRAI_DOCKER_NETWORK=host "
            "with the docker backend)",
            host,
        )
