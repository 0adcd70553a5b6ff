"""What to do to make the running workers match the scenario (pure: no I/O).

``reconcile`` compares the desired agent ids with the workers a backend found
and returns the actions (start, stop) and each agent's status, together with
the updated restart bookkeeping. The service executes the actions; feeding
the result of a failed start back in is :func:`record_start_failure`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from spawner.backends.base import WorkerHandle

State = Literal["starting", "running", "restarting", "failed"]


@dataclass(frozen=True, slots=True)
class Policy:
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_reset_s: float = 60.0

    def delay(self, consecutive: int) -> float:
        """Capped exponential backoff: 0 for the first crash, then base, 2*base, ... max."""
        if consecutive <= 1:
            return 0.0
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** (consecutive - 2))


@dataclass(frozen=True, slots=True)
class AgentBook:
    """Restart bookkeeping of one agent, kept by the service between passes."""

    restarts: int = 0  # every restart after a crash, ever
    consecutive: int = 0  # crashes since the worker last stayed up backoff_reset_s
    next_start_at: float = 0.0
    state: State = "starting"
    last_exit: str | None = None
    crashed: frozenset[str] = frozenset()  # handles already counted as crashed


@dataclass(frozen=True, slots=True)
class Start:
    agent_id: str


@dataclass(frozen=True, slots=True)
class Stop:
    worker: WorkerHandle
    reason: Literal["crashed", "orphan", "removed", "duplicate"]


Action = Start | Stop


@dataclass(frozen=True, slots=True)
class Status:
    agent_id: str
    state: State
    restarts: int
    handle: str | None
    last_exit: str | None
    next_start_at: float | None


@dataclass(slots=True)
class Plan:
    actions: list[Action] = field(default_factory=list)
    books: dict[str, AgentBook] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)

    @property
    def starts(self) -> list[str]:
        return [a.agent_id for a in self.actions if isinstance(a, Start)]

    @property
    def stops(self) -> list[Stop]:
        return [a for a in self.actions if isinstance(a, Stop)]


def reconcile(
    desired: Iterable[str],
    observed: Iterable[WorkerHandle],
    run_id: str,
    books: dict[str, AgentBook],
    now: float,
    policy: Policy = Policy(),
) -> Plan:
    """One pass: the actions that leave exactly one live worker per desired agent."""
    wanted = set(desired)
    plan = Plan()
    mine: dict[str, list[WorkerHandle]] = {}
    for worker in observed:
        if worker.run_id != run_id:
            plan.actions.append(Stop(worker, "orphan"))
        elif worker.agent_id not in wanted:
            plan.actions.append(Stop(worker, "removed"))
        else:
            mine.setdefault(worker.agent_id, []).append(worker)

    for agent_id in sorted(wanted):
        book = books.get(agent_id, AgentBook())
        workers = sorted(mine.get(agent_id, []), key=lambda w: (w.started_at, w.handle))
        live = [w for w in workers if w.alive]
        for dead in (w for w in workers if not w.alive):
            plan.actions.append(Stop(dead, "crashed"))
            if dead.handle not in book.crashed:
                consecutive = book.consecutive + 1
                book = replace(
                    book,
                    restarts=book.restarts + 1,
                    consecutive=consecutive,
                    next_start_at=now + policy.delay(consecutive),
                    state="restarting",
                    last_exit=dead.detail or "exited",
                    crashed=book.crashed | {dead.handle},
                )
        # The oldest live worker stays: it has the most progress; later ones are extras.
        plan.actions.extend(Stop(extra, "duplicate") for extra in live[1:])
        handle: str | None = None
        if live:
            keeper = live[0]
            handle = keeper.handle
            stable = now - keeper.started_at >= policy.backoff_reset_s
            book = replace(
                book,
                state="running",
                consecutive=0 if stable else book.consecutive,
            )
        elif now >= book.next_start_at:
            plan.actions.append(Start(agent_id))
            if book.state == "running":
                book = replace(book, state="starting")
        # Remember crashed handles only while they are still seen (their removal may fail once).
        seen = {w.handle for w in workers}
        plan.books[agent_id] = replace(
            book, crashed=frozenset(h for h in book.crashed if h in seen)
        )
        plan.statuses[agent_id] = Status(
            agent_id=agent_id,
            state=book.state,
            restarts=book.restarts,
            handle=handle,
            last_exit=book.last_exit,
            next_start_at=book.next_start_at if book.state in ("restarting", "failed") else None,
        )
    return plan


def record_start_failure(
    book: AgentBook, error: str, now: float, policy: Policy = Policy()
) -> AgentBook:
    """A start that raised: the agent is ``failed`` until a later start succeeds, with backoff."""
    consecutive = book.consecutive + 1
    return replace(
        book,
        consecutive=consecutive,
        next_start_at=now + max(policy.backoff_base_s, policy.delay(consecutive)),
        state="failed",
        last_exit=f"start failed: {error}"[:300],
    )


def plan_workers(agent_ids: list[str], per_worker: int) -> dict[str, list[str]]:
    """Worker id -> its agents: one worker per agent, or stable shards of ``per_worker``."""
    if per_worker <= 1:
        return {a: [a] for a in agent_ids}
    ordered = sorted(agent_ids)
    chunks = [ordered[i : i + per_worker] for i in range(0, len(ordered), per_worker)]
    return {f"shard-{n:04d}-of-{len(chunks):04d}": chunk for n, chunk in enumerate(chunks)}


def confirm_unhealthy(
    observed: Iterable[WorkerHandle], fresh: set[str], hosted: dict[str, list[str]]
) -> list[WorkerHandle]:
    """Workers the engine calls unhealthy stay alive while their agents are fresh in Redis.

    A probe that timed out on a busy machine is no reason to kill a worker that is
    doing its job; restarting it would only make the machine busier.
    """
    out = []
    for worker in observed:
        agents = hosted.get(worker.agent_id, [worker.agent_id])
        if worker.detail == "unhealthy" and any(a in fresh for a in agents):
            worker = replace(worker, alive=True, detail="")
        out.append(worker)
    return out
