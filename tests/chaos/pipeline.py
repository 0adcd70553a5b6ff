"""The whole pipeline as real processes, supervised the way ``scrai up`` supervises them.

World system, memory consolidator, analytics, API server and the spawner (which runs
the agent workers) are children of :class:`scrai.supervise.Supervisor`, the launcher's
own restart machinery; the spawner restarts the workers it hosts. Tests kill any of
them with SIGKILL and let that machinery bring them back, then check the committed
log (:func:`check_log`) and the served social graph against a brute-force fold.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from scrai.embedded import free_port
from scrai.events import TickEvent, WorldStateCommittedEvent, parse_event
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.supervise import Child, Supervisor
from tests.agents.sim import default_scenario
from tests.helpers import pid_alive, processes_with_env, wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "chaos-token"
SERVICES = {
    "world": ["-m", "scrai.world"],
    "memory": ["-m", "scrai.memory"],
    "analytics": ["-m", "analytics"],
    "api": ["-m", "scrai.api"],
    "spawner": ["-m", "spawner", "--backend", "process", "--from-redis"],
}
AGENTS_PER_WORKER = 5


def size(name: str, smoke: int) -> int:
    """A size from ``SCRAI_CHAOS_<NAME>`` (the full run sets them), else the CI smoke size."""
    return int(os.environ.get(f"SCRAI_CHAOS_{name}", smoke))


def chaos_scenario(actions: int, *, deadline_s: float = 1.0) -> Scenario:
    """scenarios/default.yml (10 agents), with enough ticks for ``actions`` agent actions.

    A killed worker's agents miss every tick while it comes back, and once their
    heartbeat lapses the others' ticks close in tens of milliseconds: a restart of 5 s
    on a busy machine costs its agents ~100 ticks each. Hence half as many ticks again
    as ``actions / agents``.
    """
    agents = len(default_scenario(1).agents)
    return default_scenario(math.ceil(actions / agents * 1.5), deadline_s=deadline_s)


@dataclass
class Pipeline:
    """Every ScrAI process of one run, against ``redis_url`` under ``namespace``."""

    redis_url: str
    namespace: str
    data_dir: Path
    api_port: int = field(default_factory=free_port)
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    said: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.said.append)
        self.keys = Keys(self.namespace)
        self.kills: Counter[str] = Counter()

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAI_")}
        env.update(
            SCRAI_REDIS_URL=self.redis_url,
            SCRAI_NAMESPACE=self.namespace,
            SCRAI_DATA_DIR=str(self.data_dir),
            SCRAI_API_TOKEN=TOKEN,
            SCRAI_API_PORT=str(self.api_port),
            SCRAI_CONSUMER_CLAIM_IDLE_MS="2000",
            SCRAI_RECONNECT_MAX_BACKOFF_S="1.0",
            SCRAI_SPAWNER_AGENTS_PER_WORKER=str(AGENTS_PER_WORKER),
            SCRAI_SPAWNER_RECONCILE_INTERVAL_S="0.2",
            SCRAI_SPAWNER_BACKOFF_BASE_S="0.2",
            SCRAI_SPAWNER_BACKOFF_MAX_S="1.0",
            SCRAI_SPAWNER_LEASE_TTL_S="2",
            SCRAI_TEST_RUN_MARK=self.mark,
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, names: list[str] | None = None) -> None:
        env = self.env
        for name in names or list(SERVICES):
            argv = [sys.executable, *SERVICES[name]]
            final = (0,) if name == "world" else ()  # the world exits 0 after its last tick
            log = self.data_dir / "logs" / f"{name}.log"
            self.supervisor.start(Child(name, argv, env, log, final))

    @asynccontextmanager
    async def started(self, names: list[str] | None = None) -> AsyncIterator[Pipeline]:
        """The run's processes for the block: their logs printed if it fails, all stopped after."""
        try:
            self.start(names)
            yield self
        except BaseException:
            print(self.logs())
            raise
        finally:
            await asyncio.to_thread(self.stop)

    async def wait_done(self, redis: aioredis.Redis, timeout_s: float = 180) -> None:
        """Until the world has finished its run and memory and analytics have caught up."""

        async def done() -> bool:
            self.poll()
            return await finished(redis, self.keys) and await consumers_caught_up(redis, self.keys)

        await wait_for(done, timeout_s=timeout_s, interval_s=0.05)

    def poll(self) -> None:
        """Let the supervisor notice deaths and restart what is due."""
        self.supervisor.poll()

    def worker_pids(self) -> list[int]:
        records = self.data_dir / "spawner" / self.namespace
        pids = []
        for path in records.glob("*.json"):
            try:
                pids.append(int(json.loads(path.read_text())["pid"]))
            except (OSError, ValueError, KeyError):
                continue  # being written or removed right now
        return [p for p in pids if pid_alive(p)]

    def running(self, kind: str) -> bool:
        """Whether a process of ``kind`` is up (so a kill hits something)."""
        if kind == "worker":
            return bool(self.worker_pids())
        child = self.supervisor.children[kind]
        return not child.done and child.proc is not None and child.proc.poll() is None

    def kill(self, kind: str, rng: Any) -> int | None:
        """SIGKILL one process of ``kind`` (a service name or "worker"); its pid, or None."""
        if kind == "worker":
            pids = self.worker_pids()
            if not pids:
                return None
            pid = rng.choice(sorted(pids))
        else:
            child = self.supervisor.children[kind]
            if child.done or child.proc is None or child.proc.poll() is not None:
                return None
            pid = child.proc.pid
            # Our kills are not a crash loop: keep the launcher's backoff at its first step.
            child.restarts = 0
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.kills[kind] += 1
        return pid

    def stop(self) -> None:
        self.supervisor.stop(grace_s=15)
        for pid in self.worker_pids():  # a SIGKILLed spawner leaves its workers to adopt
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def leftovers(self) -> list[int]:
        """Processes of this run still alive (they all carry the run's mark)."""
        return processes_with_env(f"SCRAI_TEST_RUN_MARK={self.mark}")

    def logs(self, tail: int = 1500) -> str:
        out = []
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)

    async def served_graph(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=30) as http:
            r = await http.get("/api/analytics")
            r.raise_for_status()
            return r.json()


async def last_closed(redis: aioredis.Redis, keys: Keys) -> int:
    return int(await redis.hget(keys.clock, "last_closed") or 0)


async def finished(redis: aioredis.Redis, keys: Keys) -> bool:
    return await redis.hget(keys.clock, "state") == "finished"


async def consumers_caught_up(redis: aioredis.Redis, keys: Keys) -> bool:
    """Memory and analytics have read and acknowledged every committed entry."""
    last = await redis.xrevrange(keys.committed_events, count=1)
    if not last:
        return False
    groups = {g["name"]: g for g in await redis.xinfo_groups(keys.committed_events)}
    for name in ("memory", "analytics"):
        group = groups.get(name)
        if group is None or group["last-delivered-id"] != last[0][0] or group["pending"]:
            return False
    return await redis.hget(keys.analytics("meta"), "position") == last[0][0]


@dataclass
class LogFacts:
    commits: int
    ticks: int
    rejections: int
    actions: int
    log: list[Any]

    def longest_absences(self, cast: Collection[str] = ()) -> dict[str, int]:
        """Per agent, the most ticks in a row in which it committed nothing (an agent of
        ``cast`` that never committed: every tick)."""
        acted: dict[str, set[int]] = {agent: set() for agent in cast}
        for event in self.log:
            if isinstance(event, WorldStateCommittedEvent):
                acted.setdefault(event.entity_id, set()).add(event.tick)
        longest = {}
        for agent, ticks in acted.items():
            run = best = 0
            for tick in range(1, self.ticks + 1):
                run = 0 if tick in ticks else run + 1
                best = max(best, run)
            longest[agent] = best
        return longest


async def check_log(
    redis: aioredis.Redis,
    keys: Keys,
    scenario: Scenario,
    skip: Mapping[str, Collection[str]] | None = None,
) -> LogFacts:
    """The committed log against the published actions and the stored world state.

    Zero lost, none applied twice: every distinct action event published has exactly
    one outcome (committed or rejected); no event id or (agent, sequence) twice; per
    agent the commit sequence runs 1..n without a gap and n is the stored commit_seq;
    one TickEvent per tick, 1..T in order, each the last entry of its tick.
    ``skip``: stream -> ids a test wrote itself (garbage, poison) and checks on its own.
    """

    async def entries(stream: str) -> list[dict[str, str]]:
        ignored = (skip or {}).get(stream, ())
        return [f for i, f in await redis.xrange(stream) if i not in ignored]

    log = [parse_event(f) for f in await entries(keys.committed_events)]
    rejected = [parse_event(f) for f in await entries(keys.rejected_events)]
    actions = {f["event_id"] for f in await entries(keys.action_events)}

    commits = [e for e in log if isinstance(e, WorldStateCommittedEvent)]
    ticks = [e.tick for e in log if isinstance(e, TickEvent)]
    assert ticks == list(range(1, len(ticks) + 1)), "ticks missing, repeated or out of order"
    ids = [str(e.event_id) for e in log]
    assert len(ids) == len(set(ids)), "an event id committed twice"

    outcomes = Counter(str(e.payload.action_event_id) for e in commits)
    outcomes.update(str(e.payload.action_event_id) for e in rejected)
    twice = [a for a, n in outcomes.items() if n > 1]
    assert not twice, f"{len(twice)} actions have two outcomes, e.g. {twice[:3]}"
    assert set(outcomes) == actions, (
        f"{len(actions - set(outcomes))} actions without an outcome, "
        f"{len(set(outcomes) - actions)} outcomes without an action: "
        f"{[e for e in [*commits, *rejected] if str(e.payload.action_event_id) not in actions][:3]}"
    )

    per_agent: dict[str, list[int]] = defaultdict(list)
    open_tick = 1
    for event in log:
        if isinstance(event, TickEvent):
            open_tick = event.tick + 1
        elif isinstance(event, WorldStateCommittedEvent):
            assert event.tick == open_tick, "a commit after its tick's TickEvent"
            per_agent[event.entity_id].append(event.sequence)
    stored = {k: json.loads(v) for k, v in (await redis.hgetall(keys.agents_state)).items()}
    for agent in scenario.agents:
        seqs = per_agent.get(agent.id, [])
        assert seqs == list(range(1, len(seqs) + 1)), f"{agent.id}: gap or repeat in {seqs[:20]}"
        assert stored[agent.id]["commit_seq"] == len(seqs), agent.id
    return LogFacts(len(commits), len(ticks), len(rejected), len(actions), log)


async def check_memory(redis: aioredis.Redis, keys: Keys, scenario: Scenario, tick: int) -> int:
    """The consolidator wrote through the last tick and applied no event twice; memories kept."""
    assert int(await redis.get(keys.memory_progress) or -1) == tick
    kept = 0
    for agent in scenario.agents:
        members = await redis.zrange(keys.memories(agent.id), 0, -1)
        # Ids are deterministic: one id stored twice (different text) is a double application.
        seen = Counter(json.loads(raw)["id"] for raw in members)
        assert all(n == 1 for n in seen.values()), f"{agent.id}: a memory written twice"
        kept += len(members)
    return kept
