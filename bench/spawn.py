"""The spawner: seconds from its start until every agent is ticking, per backend and cast size.

For each backend (``process``, ``docker``) and size (10, 50, 100 agents) a fresh
namespace gets a world system process and a spawner process (``python -m
spawner``, as deployed); the clock starts when the spawner is started. Two
figures: every agent seen alive (its worker put its entry in the alive set) and
every agent committed (the world committed at least one of its actions). Then
the spawner is stopped and the time it takes to remove all its workers is the
third figure. The docker backend runs Redis as a container on a bench network
(workers reach it by name; the host by a loopback port) and the ScrAI image
built from this checkout. Goal: 50 containers ticking within 30 s.

Where the time goes: the CPU seconds per agent spent until every agent
committed, by the spawner process, the workers (their processes and the zygote
that forks them, or the containers' cgroup) and, for docker, the engine
(dockerd, containerd and its shims, when they run on this host). The machine
is shared: CPU seconds are the figure that does not depend on what else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis as redis_sync

from bench.common import Figure
from scrai.embedded import EmbeddedRedis, free_port
from scrai.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
GOAL_DOCKER_50_S = 30.0
CGROUPS = Path("/sys/fs/cgroup/cpuacct/docker")  # cgroup v1 hosts
ENGINE = re.compile(rb"(^|/)(dockerd|containerd|containerd-shim[^/]*)$")


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of ``pid`` (and of its reaped children), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def containers_cpu(namespace: str) -> float:
    """CPU seconds of the running worker containers of ``namespace`` (their cgroups)."""
    import docker

    client = docker.from_env()
    try:
        items = client.api.containers(filters={"label": f"scrai.namespace={namespace}"})
    finally:
        client.close()
    total = 0.0
    for item in items:
        try:
            total += int((CGROUPS / item["Id"] / "cpuacct.usage").read_text()) / 1e9
        except OSError:
            pass
    return total


def cpu_snapshot(spawner_pid: int, backend: str, namespace: str) -> dict[str, float]:
    """CPU seconds so far: spawner, workers, engine (docker on this host only)."""
    out = {"spawner": _proc_cpu(spawner_pid), "workers": 0.0, "engine": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # A process worker's title, and the zygote's that forks them (it does their imports).
        if backend == "process" and command[0].startswith(b"scrai-worker"):
            out["workers"] += _proc_cpu(int(entry.name))
        elif backend == "docker" and ENGINE.search(command[0]):
            out["engine"] += _proc_cpu(int(entry.name), children=True)  # runc: reaped children
    if backend == "docker" and CGROUPS.exists():
        out["workers"] = containers_cpu(namespace)  # all started after the snapshot before
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("spawn")
    group.add_argument("--spawn-sizes", default="10,50,100", help="cast sizes (comma-separated)")
    group.add_argument("--spawn-backends", default="process,docker", help="process,docker")
    group.add_argument("--spawn-timeout", type=float, default=240.0, help="seconds per run")
    group.add_argument("--spawn-logs", type=Path, help="keep the runs' logs and files here")


def scenario(agents: int, places: int = 10) -> dict[str, object]:
    ring = [
        {
            "id": f"p{i}",
            "name": f"P{i}",
            "position": [i * 5.0, 0.0],
            "neighbors": [f"p{(i + 1) % places}"],
        }
        for i in range(places)
    ]
    return {
        "name": f"bench-spawn-{agents}",
        "seed": 1,
        "world": {"places": ring},
        "agents": [
            {"id": f"a{i:03d}", "name": f"A{i}", "place": f"p{i % places}"} for i in range(agents)
        ],
        "simulation": {"tick_interval_s": 1.0, "tick_deadline_s": 2.0},
    }


def measure(
    env: dict[str, str], backend: str, agents: int, workdir: Path, timeout_s: float
) -> list[Figure]:
    """Start world + spawner in a fresh namespace; time alive, committed, and stop."""
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    env = {**env, "SCRAI_NAMESPACE": namespace, "SCRAI_DATA_DIR": str(workdir / namespace)}
    path = workdir / f"{namespace}.yml"
    path.write_text(json.dumps(scenario(agents)))  # JSON is YAML
    keys = Keys(namespace)
    redis = redis_sync.Redis.from_url(env["SCRAI_REDIS_URL"], decode_responses=True)
    ids = {f"a{i:03d}" for i in range(agents)}
    spawn = [sys.executable, "-m", "spawner", "--backend", backend, "--scenario", str(path)]
    with open(workdir / f"{namespace}.log", "ab") as log:
        world = subprocess.Popen(
            [sys.executable, "-m", "scrai.world"], env=env, stdout=log, stderr=log
        )
        cpu_before = cpu_snapshot(-1, backend, namespace)
        start = time.perf_counter()
        spawner = subprocess.Popen(spawn, env=env, cwd=ROOT, stdout=log, stderr=log)
    alive_s = committed_s = None
    cpu: dict[str, float] = {}
    seen: set[str] = set()
    try:
        while time.perf_counter() - start < timeout_s and committed_s is None:
            if alive_s is None:
                # Each agent counts once seen alive: on a loaded machine an entry may lapse
                # for a moment, and all of them fresh at one instant is not the question.
                seen |= set(redis.zrangebyscore(keys.agents_alive, time.time(), "+inf"))
                if ids <= seen:
                    alive_s = time.perf_counter() - start
            states = redis.hgetall(keys.agents_state)
            done = {a for a, s in states.items() if json.loads(s).get("commit_seq", 0) >= 1}
            if ids <= done:
                committed_s = time.perf_counter() - start
                after = cpu_snapshot(spawner.pid, backend, namespace)
                cpu = {k: (after[k] - cpu_before[k]) / agents for k in after}
            time.sleep(0.1)  # polling interval of the measurement
        stop_start = time.perf_counter()
        spawner.terminate()
        spawner.wait(timeout=120)
        stop_s = time.perf_counter() - stop_start
    finally:
        for process in (spawner, world):
            if process.poll() is None:
                process.kill()
                process.wait()
        redis.close()
    label = f"{backend} {agents} agents"
    nan = float("nan")
    figures = [
        Figure(f"{label}: all alive", alive_s if alive_s is not None else nan, "s"),
        Figure(f"{label}: all committed", committed_s if committed_s is not None else nan, "s"),
        Figure(f"{label}: stop, all removed", stop_s, "s"),
    ]
    for part, seconds in cpu.items():
        if part != "engine" or backend == "docker":
            figures.append(Figure(f"{label}: CPU per agent, {part}", seconds * 1000, "ms"))
    if backend == "docker" and agents == 50 and committed_s is not None:
        figures[1] = Figure.against(figures[1].figure, committed_s, "s", GOAL_DOCKER_50_S)
    return figures


def wait_for_redis(url: str, timeout_s: float = 30.0) -> None:
    client = redis_sync.Redis.from_url(url)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except redis_sync.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            client.close()


@contextmanager
def docker_redis(run: str) -> Iterator[dict[str, str]]:
    """A redis:7 container on a fresh bridge network, the ScrAI image, and the env to use them."""
    import docker

    client = docker.from_env()
    label = {"scrai.bench": run}
    image = os.environ.get("SCRAI_IMAGE") or "scrai:bench"
    if not os.environ.get("SCRAI_IMAGE"):
        build = ["docker", "build", "-q", "-t", image, str(ROOT)]
        subprocess.run(build, check=True, capture_output=True)
    network = client.networks.create(f"scraibench{run}", labels=label)
    port = free_port()
    name = f"scraibench{run}redis"
    client.containers.run(
        "redis:7",
        ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""],
        name=name, detach=True, network=network.name, labels=label,
        ports={"6379/tcp": ("127.0.0.1", port)},
    )  # fmt: skip
    try:
        wait_for_redis(f"redis://127.0.0.1:{port}/0")
        yield {
            "SCRAI_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "SCRAI_WORKER_REDIS_URL": f"redis://{name}:6379/0",
            "SCRAI_DOCKER_NETWORK": network.name,
            "SCRAI_IMAGE": image,
            "SCRAI_WORKER_LABELS": json.dumps(label),
        }
    finally:
        for container in client.containers.list(all=True, filters={"label": "scrai.bench=" + run}):
            container.remove(force=True)
        network.remove()
        client.close()


async def run(args: argparse.Namespace) -> list[Figure]:
    return await asyncio.to_thread(run_sync, args)


@contextmanager
def embedded_redis(workdir: Path) -> Iterator[str]:
    """``SCRAI_REDIS_URL`` when set, else a private embedded server for the process runs."""
    if os.environ.get("SCRAI_REDIS_URL"):
        yield os.environ["SCRAI_REDIS_URL"]
        return
    with EmbeddedRedis(workdir / "redis") as server:
        yield server.url


def run_sync(args: argparse.Namespace) -> list[Figure]:
    sizes = [int(n) for n in args.spawn_sizes.split(",") if n]
    backends = [b for b in args.spawn_backends.split(",") if b]
    base = {**os.environ, "PYTHONPATH": str(ROOT), "SCRAI_LOG_LEVEL": "WARNING"}
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="scrai-bench-spawn-") as tmp:
        workdir = args.spawn_logs or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if "process" in backends:
            with embedded_redis(workdir) as url:
                for n in sizes:
                    env = {**base, "SCRAI_REDIS_URL": url}
                    figures += measure(env, "process", n, workdir, args.spawn_timeout)
        if "docker" in backends:
            with docker_redis(uuid.uuid4().hex[:6]) as extra:
                for n in sizes:
                    env = {**base, **extra}
                    figures += measure(env, "docker", n, workdir, args.spawn_timeout)
    return figures
