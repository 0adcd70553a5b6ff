"""Spawner backends behind one interface (:class:`spawner.backends.base.Backend`)."""

from __future__ import annotations

from scrai.settings import Settings
from spawner.backends.base import Backend, WorkerHandle

BACKENDS = ("process", "docker", "swarm")


def make_backend(name: str, settings: Settings, run_id: str) -> Backend:
    """The backend called ``name``; docker and swarm import the Docker SDK only when chosen."""
    if name == "process":
        from spawner.backends.process import ProcessBackend

        return ProcessBackend(settings, run_id)
    if name == "docker":
        from spawner.backends.docker import DockerBackend

        return DockerBackend(settings, run_id)
    if name == "swarm":
        from spawner.backends.swarm import SwarmBackend

        return SwarmBackend(settings, run_id)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "WorkerHandle", "make_backend"]
