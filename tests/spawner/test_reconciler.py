"""The reconciler's diff and backoff bookkeeping (pure: no servers)."""

from __future__ import annotations

from spawner.backends.base import WorkerHandle
from spawner.reconciler import (
    AgentBook,
    Policy,
    Start,
    Stop,
    confirm_unhealthy,
    plan_workers,
    reconcile,
    record_start_failure,
)

RUN = "run1"
POLICY = Policy(backoff_base_s=1.0, backoff_max_s=8.0, backoff_reset_s=60.0)


def worker(agent: str, handle: str, *, alive: bool = True, run: str = RUN, at: float = 0.0):
    return WorkerHandle(agent, handle, run, alive, at, "" if alive else "exited (1)")


def test_starts_every_missing_agent_once() -> None:
    plan = reconcile(["b", "a", "c"], [worker("b", "h1")], RUN, {}, now=100.0, policy=POLICY)
    assert plan.starts == ["a", "c"]
    assert plan.stops == []
    assert plan.statuses["b"].state == "running" and plan.statuses["b"].handle == "h1"
    assert plan.statuses["a"].state == "starting"


def test_nothing_to_do_when_everything_runs() -> None:
    plan = reconcile(["a"], [worker("a", "h1")], RUN, {}, now=1.0, policy=POLICY)
    assert plan.actions == []


def test_orphans_of_another_run_and_removed_agents_are_stopped() -> None:
    orphan = worker("a", "old", run="run0")
    removed = worker("gone", "h2")
    plan = reconcile(["a"], [orphan, removed], RUN, {}, now=1.0, policy=POLICY)
    assert Stop(orphan, "orphan") in plan.actions
    assert Stop(removed, "removed") in plan.actions
    assert plan.starts == ["a"]
    assert "gone" not in plan.statuses


def test_duplicates_keep_the_oldest() -> None:
    old, new = worker("a", "h-new", at=5.0), worker("a", "h-old", at=1.0)
    plan = reconcile(["a"], [old, new], RUN, {}, now=10.0, policy=POLICY)
    assert plan.actions == [Stop(old, "duplicate")]
    assert plan.statuses["a"].handle == "h-old"


def test_crash_restarts_at_once_then_with_capped_exponential_backoff() -> None:
    books: dict[str, AgentBook] = {}
    now = 0.0
    delays = []
    for n in range(1, 7):
        dead = worker("a", f"h{n}", alive=False)
        plan = reconcile(["a"], [dead], RUN, books, now=now, policy=POLICY)
        books = plan.books
        assert Stop(dead, "crashed") in plan.actions
        assert plan.statuses["a"].restarts == n
        delay = books["a"].next_start_at - now
        delays.append(delay)
        # Restarted right away only when no backoff is due.
        assert plan.starts == (["a"] if delay == 0 else [])
        assert plan.statuses["a"].state == "restarting"
        assert plan.statuses["a"].last_exit == "exited (1)"
        now += 0.1
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_restart_waits_for_the_backoff_and_counts_a_crash_once() -> None:
    books = {"a": AgentBook(restarts=2, consecutive=2)}
    dead = worker("a", "h9", alive=False)
    plan = reconcile(["a"], [dead], RUN, books, now=10.0, policy=POLICY)
    assert books["a"].restarts == 2  # inputs are not mutated
    assert plan.books["a"].next_start_at == 12.0
    # The same dead worker seen again (its removal failed) is not a second crash.
    again = reconcile(["a"], [dead], RUN, plan.books, now=11.0, policy=POLICY)
    assert again.books["a"].restarts == 3
    assert again.starts == []
    later = reconcile(["a"], [], RUN, again.books, now=12.0, policy=POLICY)
    assert later.starts == ["a"]
    assert later.statuses["a"].state == "restarting"


def test_a_worker_that_stays_up_resets_its_backoff_but_not_its_restart_count() -> None:
    books = {"a": AgentBook(restarts=4, consecutive=4, state="restarting")}
    running = worker("a", "h1", at=100.0)
    early = reconcile(["a"], [running], RUN, books, now=120.0, policy=POLICY)
    assert early.books["a"].consecutive == 4 and early.statuses["a"].state == "running"
    late = reconcile(["a"], [running], RUN, books, now=161.0, policy=POLICY)
    assert late.books["a"].consecutive == 0
    assert late.statuses["a"].restarts == 4


def test_a_failed_start_is_retried_after_backoff() -> None:
    book = record_start_failure(AgentBook(), "no such image", now=5.0, policy=POLICY)
    assert book.state == "failed" and "no such image" in (book.last_exit or "")
    assert book.next_start_at == 6.0
    plan = reconcile(["a"], [], RUN, {"a": book}, now=5.5, policy=POLICY)
    assert plan.starts == [] and plan.statuses["a"].state == "failed"
    assert plan.statuses["a"].next_start_at == 6.0
    assert reconcile(["a"], [], RUN, {"a": book}, now=6.0, policy=POLICY).actions == [Start("a")]


def test_workers_are_one_per_agent_or_stable_shards() -> None:
    assert plan_workers(["b", "a"], 1) == {"b": ["b"], "a": ["a"]}
    shards = plan_workers(["e", "d", "c", "b", "a"], 2)
    assert shards == {
        "shard-0000-of-0003": ["a", "b"],
        "shard-0001-of-0003": ["c", "d"],
        "shard-0002-of-0003": ["e"],
    }
    assert plan_workers(["a", "b", "c", "d", "e"], 2) == shards


def test_an_unhealthy_worker_whose_agent_is_fresh_is_kept() -> None:
    sick = WorkerHandle("a", "h1", RUN, False, 0.0, "unhealthy")
    hung = WorkerHandle("b", "h2", RUN, False, 0.0, "unhealthy")
    dead = worker("c", "h3", alive=False)
    kept = confirm_unhealthy([sick, hung, dead], {"a", "c"}, {"a": ["a"], "b": ["b"]})
    assert [w.alive for w in kept] == [True, False, False]
    plan = reconcile(["a", "b", "c"], kept, RUN, {}, now=1.0, policy=POLICY)
    assert [s.worker.handle for s in plan.stops] == ["h2", "h3"]
