"""End to end: from an action's publication to its effect on the dashboard's feeds.

The whole back end runs as in a deployment, each as its own process on one Redis:
the world system, the memory consolidator, analytics and the API server. This
process plays ``--e2e-agents`` agents at one action each per second (the scenario
ticks every ``--e2e-tick-s``): when tick ``t`` opens it publishes every agent's
action for ``t`` in one pipeline, and it listens to the API's live stream
(``GET /api/live``, SSE) as the dashboard does.

- **live stream**: publication -> the action's committed event arriving on the SSE
  stream, for every action.
- **analytics**: publication -> the first ``analytics`` update on the SSE stream
  whose tick is at least ``t``. Analytics sets its tick when it folds tick ``t``'s
  TickEvent, the last entry of the tick, in the same MULTI/EXEC as the tables, so at
  that moment ``/api/analytics`` serves every action of the tick (checked at the end).
- the live stream's latency in two parts, by the committed event's timestamp (when
  the world began to close its tick): publication -> that close (the world reads and
  stages the tick's actions and waits for every agent), and the close -> arrival on
  the SSE stream (the commit itself, the API's read, the client).

Latency starts when the tick's publication pipeline starts, so it includes
publishing the whole tick. Baseline: raw Redis, a pipeline of the same number of
XADDs read by a blocked XREAD on another connection, at the same rate, same run.

Also ``scrai up`` of the default scenario: seconds from the command starting to
``/api/simulation`` showing tick 1 or later (a private Redis, as a new user gets it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import redis.asyncio as aioredis

from bench.common import Figure, bench_redis
from bench.world import scenario as ring_scenario
from bench.world import tick_fields
from scrai.connection import connect
from scrai.embedded import free_port
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_TICKS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("e2e")
    group.add_argument("--e2e-agents", default="100,1000", help="cast sizes, comma-separated")
    group.add_argument("--e2e-ticks", type=int, default=20, help="measured ticks per size")
    group.add_argument("--e2e-tick-s", type=float, default=1.0, help="seconds per tick")
    group.add_argument("--e2e-up-runs", type=int, default=1, help="'scrai up' start-ups (0: skip)")


# -- processes (shared with bench.scale) ---------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def server_info(redis: aioredis.Redis) -> tuple[float, float, int]:
    """The Redis server's own CPU seconds, its RSS in MiB and its pid."""
    cpu = await redis.info("cpu")
    mem = await redis.info("memory")
    pid = int((await redis.info("server"))["process_id"])
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"], mem["used_memory_rss"] / 2**20, pid


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Pipeline:
    """A namespace on one Redis with ScrAI's processes running on it."""

    url: str
    namespace: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_port: int = 0

    def __post_init__(self) -> None:
        self.keys = Keys(self.namespace)
        self.redis = connect(Settings(redis_url=self.url, namespace=self.namespace), block_ms=2_000)
        self.env = {
            **os.environ,
            "SCRAI_REDIS_URL": self.url,
            "SCRAI_NAMESPACE": self.namespace,
            "SCRAI_LOG_LEVEL": "WARNING",
            "SCRAI_API_TOKEN": "bench",
        }

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            argv, env={**self.env, **env}, cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL,
        )  # fmt: skip
        self.procs[name] = proc
        return proc

    def start_services(self, *, api: bool = False) -> None:
        """Memory consolidator and analytics (and the API server) for this namespace."""
        py = sys.executable
        self.start("memory", [py, "-m", "scrai.memory"])
        self.start("analytics", [py, "-m", "analytics"])
        if api:
            self.api_port = free_port()
            self.start("api", [py, "-m", "scrai.api"], SCRAI_API_PORT=str(self.api_port))

    def start_world(self, max_ticks: int) -> None:
        self.start("world", [sys.executable, "-m", "scrai.world", "--max-ticks", str(max_ticks)])

    def cpu(self) -> dict[str, float]:
        """CPU seconds per process; one that exited still counts (unreaped, /proc keeps it)."""
        return {name: cpu_s(p.pid) for name, p in self.procs.items() if p.returncode is None}

    def rss(self) -> dict[str, float]:
        return {name: rss_mib(p.pid) for name, p in self.procs.items() if exited(p) is None}

    def check(self) -> None:
        for name, proc in self.procs.items():
            code = exited(proc)
            if code not in (None, 0):
                raise RuntimeError(f"{name} exited with {code} (BENCH_VERBOSE=1 shows its log)")

    async def closed(self) -> int:
        return int(await self.redis.hget(self.keys.clock, "last_closed") or 0)

    async def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        keys = [k async for k in self.redis.scan_iter(match=f"{self.namespace}:*", count=1000)]
        for i in range(0, len(keys), 1000):
            await self.redis.unlink(*keys[i : i + 1000])
        await self.redis.aclose()


def exited(proc: subprocess.Popen[bytes]) -> int | None:
    """A child's exit code, or None while it runs, WITHOUT reaping it: its CPU times
    stay readable in /proc until :meth:`Pipeline.stop` waits for it."""
    if proc.returncode is not None:
        return proc.returncode
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


async def until(cond, timeout_s: float = 300.0, what: str = "the run", check=None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await cond():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not get there in {timeout_s:.0f}s")
        await asyncio.sleep(0.02)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the live stream -----------------------------------------------------------------------


@dataclass
class Arrivals:
    """When each committed event and each analytics update reached the SSE client."""

    events: list[tuple[int, float]] = field(default_factory=list)  # (tick, arrival)
    closed_at: dict[int, float] = field(default_factory=dict)  # tick -> its close began
    analytics: list[tuple[int, float]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)


async def listen(url: str, arrivals: Arrivals) -> None:
    """Read ``/api/live`` as a browser does, stamping each message as it arrives."""
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as client,
        client.stream("GET", f"{url}/api/live") as response,
    ):
        response.raise_for_status()
        kind = None
        async for line in response.aiter_lines():
            now = time.time()
            if line.startswith(":"):
                arrivals.connected.set()
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind in ("event", "analytics"):
                data = orjson.loads(line[6:])
                if kind == "event":
                    tick = int(data["tick"])
                    arrivals.events.append((tick, now))
                    # A committed event's timestamp is when the world began closing its tick.
                    arrivals.closed_at.setdefault(tick, data["timestamp"])
                elif data.get("kind") == "tables":
                    arrivals.analytics.append((int(data["tick"]), now))


async def drive(pipe: Pipeline, world: Scenario, ticks: int, tag: str) -> dict[int, float]:
    """Publish every agent's action for each tick as it opens; returns tick -> publish time."""
    pubsub = pipe.redis.pubsub()
    await pubsub.subscribe(pipe.keys.tick_channel)
    published: dict[int, float] = {}
    try:
        pipe.start_world(ticks)
        while len(published) < ticks:
            pipe.check()
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            opened = (
                int(message["data"])
                if message
                else int(await pipe.redis.hget(pipe.keys.clock, "tick") or 0)
            )
            if opened < 1 or opened in published or opened > ticks:
                continue
            fields = tick_fields(world, opened, tag)
            start = time.time()
            async with pipe.redis.pipeline(transaction=False) as p:
                for f in fields:
                    p.xadd(pipe.keys.action_events, f)
                await p.execute()
            published[opened] = start
    finally:
        await pubsub.aclose()
    return published


async def through_api(url: str, agents: int, ticks: int, tick_s: float) -> dict[str, list[float]]:
    world = ring_scenario(agents)
    sim = world.simulation.model_copy(update={"tick_interval_s": tick_s, "tick_deadline_s": 10})
    world = world.model_copy(update={"simulation": sim})
    pipe = Pipeline(url)
    listener: asyncio.Task[None] | None = None
    try:
        await save_scenario(pipe.redis, pipe.keys, world)
        await pipe.redis.zadd(
            pipe.keys.agents_alive, {a.id: time.time() + 3_600 for a in world.agents}
        )
        pipe.start_services(api=True)
        base = f"http://127.0.0.1:{pipe.api_port}"
        async with httpx.AsyncClient() as client:

            async def healthy() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get(f"{base}/healthz")).status_code == 200
                return False

            await until(healthy, 60, "the API", pipe.check)
        arrivals = Arrivals()
        listener = asyncio.create_task(listen(base, arrivals))
        await asyncio.wait_for(arrivals.connected.wait(), 30)
        total = WARMUP_TICKS + ticks
        published = await drive(pipe, world, total, uuid.uuid4().hex)

        async def seen_all() -> bool:
            if listener.done():
                listener.result()
            last = arrivals.analytics[-1][0] if arrivals.analytics else 0
            return last >= total and len(arrivals.events) >= agents * total

        await until(seen_all, 60, "the live stream", pipe.check)
        async with httpx.AsyncClient(timeout=60) as client:
            graph = (await client.get(f"{base}/api/analytics")).json()
        if graph.get("tick", 0) < total:
            raise RuntimeError(f"/api/analytics shows tick {graph.get('tick')}, not {total}")
        measured = [(t, at) for t, at in arrivals.events if t > WARMUP_TICKS]
        sse = [at - published[t] for t, at in measured]
        # Where the live stream's latency goes: publication -> the world's close of the tick
        # (read, stage, every agent in), then the close -> arrival (commit, API, SSE client).
        world = [arrivals.closed_at[t] - published[t] for t, _ in measured]
        relay = [at - arrivals.closed_at[t] for t, at in measured]
        firsts: dict[int, float] = {}
        for t, at in arrivals.analytics:  # the first update covering each tick
            for covered in range(1, t + 1):
                firsts.setdefault(covered, at)
        per_tick = [firsts[t] - published[t] for t in range(WARMUP_TICKS + 1, total + 1)]
        analytics = [lat for lat in per_tick for _ in range(agents)]  # every action of the tick
        return {"sse": sse, "analytics": analytics, "world": world, "relay": relay}
    finally:
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await listener
        await pipe.stop()


async def raw_latency(url: str, agents: int, ticks: int) -> list[float]:
    """XADD pipeline -> blocked XREAD on another connection, per entry, ``agents`` per batch."""
    stream = f"bench-e2e-raw-{uuid.uuid4().hex[:8]}"
    writer = connect(Settings(redis_url=url), block_ms=2_000)
    reader = connect(Settings(redis_url=url), block_ms=2_000)
    fields = {"type": "action", "payload": "x" * 200}
    lat: list[float] = []
    try:
        at = "0-0"
        for _ in range(ticks):
            read = asyncio.create_task(_read(reader, stream, at, agents))
            await asyncio.sleep(0.01)  # the reader is blocked in XREAD before the batch goes
            start = time.time()
            async with writer.pipeline(transaction=False) as p:
                for _ in range(agents):
                    p.xadd(stream, fields)
                await p.execute()
            stamps, at = await read
            lat += [s - start for s in stamps]
    finally:
        await writer.delete(stream)
        await writer.aclose()
        await reader.aclose()
    return lat


async def _read(redis: aioredis.Redis, stream: str, at: str, n: int) -> tuple[list[float], str]:
    stamps: list[float] = []
    while len(stamps) < n:
        reply = await redis.xread({stream: at}, count=n, block=2_000)
        now = time.time()
        for _, entries in reply:
            stamps += [now] * len(entries)
            at = entries[-1][0]
    return stamps, at


# -- scrai up ------------------------------------------------------------------------------


async def up_seconds() -> float:
    """Seconds from ``scrai up scenarios/default.yml`` starting to /api/simulation tick >= 1."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAI_")}
    with tempfile.TemporaryDirectory(prefix="scrai-bench-up-") as tmp:
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrai", "up", "scenarios/default.yml", "--port", str(port),
            "--data-dir", tmp,
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(timeout=5) as client:

                async def live() -> bool:
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        r = await client.get(f"http://127.0.0.1:{port}/api/simulation")
                        return (r.json().get("tick") or 0) >= 1
                    return False

                def check() -> None:
                    if proc.returncode is not None:
                        raise RuntimeError(f"scrai up exited with {proc.returncode}")

                await until(live, 120, "scrai up", check)
            return time.perf_counter() - start
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def run(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    async with bench_redis() as url:
        for agents in [int(n) for n in args.e2e_agents.split(",") if n]:
            load = load_average()
            lat = await through_api(url, agents, args.e2e_ticks, args.e2e_tick_s)
            raw = await raw_latency(url, agents, args.e2e_ticks)
            rate = f"{agents} agents x {1 / args.e2e_tick_s:g} action/s"
            for name, values in (("live stream", lat["sse"]), ("analytics", lat["analytics"])):
                for q, label in ((0.5, "p50"), (0.99, "p99")):
                    figures.append(
                        Figure.against(
                            f"e2e {name} {label} ({rate})",
                            pct(values, q) * 1e3,
                            "ms",
                            pct(raw, q) * 1e3,
                        )
                    )
            # The live stream's latency in two parts: no baseline of their own.
            for part, key in (("publication -> tick close", "world"), ("close -> SSE", "relay")):
                for q, label in ((0.5, "p50"), (0.99, "p99")):
                    figures.append(
                        Figure(f"  of it: {part} {label} ({rate})", pct(lat[key], q) * 1e3, "ms")
                    )
            figures.append(
                Figure(
                    f"load average during {agents}-agent run (start)",
                    float(load.split()[0]),
                    "procs",
                )
            )
    runs = [await up_seconds() for _ in range(args.e2e_up_runs)]
    if runs:
        figures.append(
            Figure("scrai up default.yml -> dashboard tick >= 1", statistics.median(runs), "s")
        )
    return figures
