"""``scrai up``: a whole simulation as supervised local processes.

Loads and validates the scenario, starts a private Redis when no URL is given,
stores the scenario, then starts (as children it restarts when they die) the
memory consolidator, analytics and the API server when this build has them, the
agent workers, and — once every agent is alive — the world system. Prints
progress and the dashboard's address. ``--ticks N`` runs N ticks, stops
everything and returns 0, leaving the data in Redis. The first Ctrl-C stops
everything gracefully; a second one kills.
"""

from __future__ import annotations

import importlib.util
import math
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import yaml

from scrai.embedded import EmbeddedRedis
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.settings import Settings
from scrai.supervise import Child, Supervisor

SHARD_ABOVE = 50  # casts larger than this run multiplexed, several agents per worker process
AGENTS_PER_SHARD = 500
WORLD = "world"
WORLD_MISMATCH = 2  # the world's exit code when Redis holds another scenario's world
TOKEN_FILE = "api-token"  # in the data dir, beside the run it guards
CONSUMERS = (("memory", "scrai.memory"), ("analytics", "analytics"))  # the log's readers
DRAIN_TIMEOUT_S = 60.0  # after a --ticks run's last tick, the longest wait for them


@dataclass
class UpOptions:
    scenario: Path
    port: int | None = None
    host: str | None = None
    seed: int | None = None
    ticks: int | None = None
    redis_url: str | None = None
    data_dir: Path | None = None
    reseed: bool = False
    progress_every_s: float = 2.0
    alive_timeout_s: float = 120.0
    backend: str = "process"  # the spawner's: process | docker | swarm


def load(options: UpOptions) -> Scenario:
    """The expanded scenario, with ``--seed`` applied before templates are expanded."""
    from scrai.scenario.loader import load_scenario_file, parse_scenario

    scenario = load_scenario_file(options.scenario)
    if options.seed is None or options.seed == scenario.seed:
        return scenario
    data = yaml.safe_load(options.scenario.read_text(encoding="utf-8"))
    data["seed"] = options.seed
    return parse_scenario(yaml.safe_dump(data, sort_keys=False), str(options.scenario))


def agents_per_worker(count: int) -> int:
    """Agents per worker process for a cast of ``count`` (one each, or shards)."""
    if count <= SHARD_ABOVE:
        return 1
    return math.ceil(count / max(2, math.ceil(count / AGENTS_PER_SHARD)))


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class Launcher:
    def __init__(self, options: UpOptions, say: Any = None) -> None:
        self.options = options
        self.say = say or (lambda msg: print(f"[scrai] {msg}", flush=True))
        self.settings = Settings()
        self.data_dir = (options.data_dir or self.settings.data_dir).resolve()
        self.keys = Keys(self.settings.namespace)
        self.supervisor = Supervisor(self.say)
        self.server: EmbeddedRedis | None = None
        self.interrupts = 0
        self.mismatch = False

    # -- setup ---------------------------------------------------------------------------

    def _redis_url(self) -> str:
        url = self.options.redis_url or self.settings.redis_url
        if url:
            return url
        self.server = EmbeddedRedis(self.data_dir / "redis", new_session=True).start()
        self.say(f"started a private Redis at {self.server.url} (data in {self.server.data_dir})")
        return self.server.url

    def api_token(self) -> str:
        """``SCRAI_API_TOKEN``, else the data dir's own token, made on its first run.

        The data dir keeps the run (Redis' files) across restarts, and the token with it,
        so a dashboard left open goes on working after ``scrai up`` is run again.
        """
        if self.settings.api_token:
            return self.settings.api_token
        path = self.data_dir / TOKEN_FILE
        try:
            token = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            token = ""
        if token:
            return token
        token = secrets.token_urlsafe(24)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the owner's only
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(token + "\n")
        return token

    def _env(self, url: str, token: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SCRAI_REDIS_URL=url,
            SCRAI_NAMESPACE=self.settings.namespace,
            SCRAI_API_TOKEN=token,
            SCRAI_API_HOST=self.options.host or self.settings.api_host,
            SCRAI_API_PORT=str(self.options.port or self.settings.api_port),
            SCRAI_DATA_DIR=str(self.data_dir),
            PYTHONUNBUFFERED="1",
        )
        return env

    def _child(
        self, name: str, argv: list[str], env: dict[str, str], final: tuple[int, ...] = ()
    ) -> None:
        self.supervisor.start(Child(name, argv, env, self.data_dir / "logs" / f"{name}.log", final))

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self.say("stopping (Ctrl-C again to force)...")
        else:
            self.say("forced stop")
            self.supervisor.kill()
            if self.server:
                self.server.kill()
            os._exit(128 + signum)

    # -- run -----------------------------------------------------------------------------

    def run(self) -> int:
        scenario = load(self.options)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        url = self._redis_url()
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)
        try:
            return self._run(scenario, url, client)
        finally:
            self.supervisor.stop(grace_s=10.0)
            client.close()
            if self.server:
                self.server.stop()
            self.say(f"stopped; logs in {self.data_dir / 'logs'}")

    def _run(self, scenario: Scenario, url: str, client: redis.Redis) -> int:
        client.set(self.keys.scenario, scenario.model_dump_json())
        token = self.api_token()
        env = self._env(url, token)
        py = sys.executable
        ids = [a.id for a in scenario.agents]
        self.say(
            f"scenario {scenario.name!r}: {len(ids)} agents, {len(scenario.world.places)} places, "
            f"seed {scenario.seed}"
        )
        # Everything starts at once, the workers first (the slowest to come alive). The
        # world seeds meanwhile and holds a new run's first tick until they are.
        self._start_workers(ids, env, py)
        last_closed = int(client.hget(self.keys.clock, "last_closed") or 0)
        world = [py, "-m", "scrai.world", "--wait-for-cast", str(self.options.alive_timeout_s)]
        if self.options.ticks:
            world += ["--max-ticks", str(last_closed + self.options.ticks)]
        if self.options.reseed:
            world.append("--reseed")
        self._child(WORLD, world, env, final=(0, WORLD_MISMATCH))
        for name, module in (("api", "scrai.api"), *CONSUMERS):
            if available(f"{module}.__main__"):
                self._child(name, [py, "-m", module], env)
        if not self._wait_alive(client, len(ids)):
            if self.mismatch:
                return 2
            return 1 if self.interrupts == 0 else 130
        if available("scrai.api.__main__"):
            host, port = env["SCRAI_API_HOST"], env["SCRAI_API_PORT"]
            self.say(f"dashboard: http://{host}:{port}/#token={token}")
            self.say(f"API token: {token}")
        return self._watch(client, len(ids))

    def _start_workers(self, ids: list[str], env: dict[str, str], py: str) -> None:
        """The agent workers, through the spawner: it keeps one per agent (or shard) alive,
        restarts crashed ones with backoff, and removes them all when it is stopped."""
        spawner_env = dict(env, SCRAI_SPAWNER_AGENTS_PER_WORKER=str(agents_per_worker(len(ids))))
        if self.options.backend == "docker":
            # Worker containers reach this machine's (loopback) Redis on the host network.
            spawner_env.setdefault("SCRAI_DOCKER_NETWORK", "host")
        argv = [py, "-m", "spawner", "--backend", self.options.backend, "--from-redis"]
        self._child("spawner", argv, spawner_env)

    def _wait_alive(self, client: redis.Redis, count: int) -> bool:
        deadline = time.monotonic() + self.options.alive_timeout_s
        while self.interrupts == 0 and time.monotonic() < deadline:
            if any(self._world_mismatch(child) for child in self.supervisor.poll()):
                return False
            alive = client.zcount(self.keys.agents_alive, time.time(), "+inf")
            if alive >= count:
                self.say(f"{alive} agents alive; the world opens its first tick")
                return True
            time.sleep(0.1)
        if self.interrupts == 0:
            self.say(f"agents did not come alive within {self.options.alive_timeout_s:.0f}s")
        return False

    def _watch(self, client: redis.Redis, count: int) -> int:
        next_report = 0.0
        while self.interrupts == 0:
            for child in self.supervisor.poll():
                if self._world_mismatch(child):
                    return 2
                if child.name == WORLD and child.exit_code == 0:
                    self._report(client, count)
                    self.say("the world finished its last tick")
                    if self.options.ticks:
                        self._drain(client)
                        return 130 if self.interrupts else 0
            now = time.monotonic()
            if now >= next_report:
                next_report = now + self.options.progress_every_s
                self._report(client, count)
            time.sleep(0.1)
        return 130 if self.interrupts else 0

    def _drain(self, client: redis.Redis) -> None:
        """Let the log's readers reach its end before everything stops, so that the
        memories and the graph left in Redis cover every tick of the run."""
        started = [name for name, _ in CONSUMERS if name in self.supervisor.children]
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        told = False
        while self.interrupts == 0:
            behind = self._behind(client, started)
            if not behind:
                return
            if not told:
                self.say(f"waiting for {', '.join(behind)} to read the log to its end")
                told = True
            if time.monotonic() >= deadline:
                self.say(
                    "still behind when stopped (they go on from there next time): "
                    + ", ".join(
                        f"{name} {'?' if n < 0 else n} entries" for name, n in behind.items()
                    )
                )
                return
            self.supervisor.poll()
            time.sleep(0.1)

    def _behind(self, client: redis.Redis, groups: list[str]) -> dict[str, int]:
        """Group -> entries of the committed log it has yet to read or acknowledge
        (-1: cannot tell), for the groups not at its end."""
        try:
            info = {g["name"]: g for g in client.xinfo_groups(self.keys.committed_events)}
            last = client.xinfo_stream(self.keys.committed_events)["last-generated-id"]
        except redis.RedisError:
            return dict.fromkeys(groups, -1)  # no log yet, or Redis away: still behind
        behind = {}
        for name in groups:
            group = info.get(name)
            if group is None:  # not reading yet
                behind[name] = -1
            elif group["last-delivered-id"] != last or group["pending"]:
                lag = group["lag"]
                behind[name] = -1 if lag is None else lag + group["pending"]
        return behind

    def _world_mismatch(self, child: Child) -> bool:
        """Whether ``child`` is the world, refusing to run over another scenario's world."""
        if child.name != WORLD or child.exit_code != WORLD_MISMATCH:
            return False
        self.mismatch = True
        self.say(
            "Redis holds another scenario's world: run again with --reseed, "
            "or another --data-dir / SCRAI_NAMESPACE"
        )
        return True

    def _report(self, client: redis.Redis, count: int) -> None:
        try:
            clock = client.hgetall(self.keys.clock)
            alive = client.zcount(self.keys.agents_alive, time.time(), "+inf")
            events = client.xlen(self.keys.committed_events)
        except redis.RedisError as exc:
            self.say(f"(redis unavailable: {exc})")
            return
        target = f"/{self.options.ticks}" if self.options.ticks else ""
        self.say(
            f"tick {clock.get('last_closed', 0)}{target} ({clock.get('state', 'starting')}) · "
            f"{alive}/{count} agents alive · {events} events"
        )


def up(options: UpOptions) -> int:
    """Run ``scrai up``; returns the process exit code."""
    from scrai.scenario.errors import ScenarioError

    try:
        return Launcher(options).run()
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return 2
