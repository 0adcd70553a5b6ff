"""The one interface every spawner backend implements.

A backend knows how to start one agent worker, stop it, and find the workers
it started, by their labels (run id, agent id, namespace), even after the
spawner itself was restarted. It holds no policy: when to start, restart or
stop is decided by :mod:`spawner.reconciler`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Labels every worker carries (container labels, service labels, process records).
LABEL_MANAGED = "scrai.managed"
LABEL_RUN_ID = "scrai.run-id"
LABEL_AGENT_ID = "scrai.agent-id"
LABEL_NAMESPACE = "scrai.namespace"


@dataclass(frozen=True, slots=True)
class WorkerHandle:
    """One running (or dead, not yet removed) worker as the backend sees it."""

    agent_id: str
    handle: str  # pid, container id or service id
    run_id: str
    alive: bool
    started_at: float = 0.0  # epoch seconds
    detail: str = ""  # e.g. "exited (137)", "unhealthy"
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Start, stop and list the workers of one namespace (blocking calls: run them in a thread)."""

    name: str

    def start(self, agent_id: str, agents: Sequence[str] = ()) -> WorkerHandle:
        """Start the worker ``agent_id`` (labelled with this backend's run id).

        ``agents``: when the worker hosts several agents (a shard of a large cast),
        their ids; ``agent_id`` is then the shard's name. Empty: it hosts ``agent_id``.
        """
        ...

    def stop(self, handle: WorkerHandle) -> None:
        """Stop and remove the worker; a worker already gone is not an error."""
        ...

    def list(self) -> list[WorkerHandle]:
        """Every worker of this namespace the spawner manages, of any run id, alive or dead."""
        ...

    def close(self) -> None:
        """Release clients; leaves the workers running."""
        ...


def worker_args(agent_id: str, agents: Sequence[str] = ()) -> list[str]:
    """Arguments of ``run_agent_worker.py`` for one worker: one agent, or a named shard."""
    if not agents or list(agents) == [agent_id]:
        return ["--agent-id", agent_id]
    return ["--agents", ",".join(agents), "--name", agent_id]


def worker_labels(
    namespace: str, run_id: str, agent_id: str, extra: dict[str, str]
) -> dict[str, str]:
    """The labels of one worker: the caller's extra labels, then ScrAI's own (which win)."""
    return {
        **extra,
        LABEL_MANAGED: "true",
        LABEL_NAMESPACE: namespace or "-",
        LABEL_RUN_ID: run_id,
        LABEL_AGENT_ID: agent_id,
    }
