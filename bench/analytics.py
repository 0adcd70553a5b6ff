"""Analytics: events/s folded by the AnalyticsSystem beside raw XREADGROUP+XACK, and metric time.

Ingest: a synthetic committed log (``bench.synthetic``: agents wandering a grid town,
talking and using objects, one committed event per agent per tick and a TickEvent closing each tick)
is put on one stream per run; the AnalyticsSystem's committed-stream consumer
folds it in burst mode (parse, dedupe, fold, changed records + position + ack in
one MULTI/EXEC) while a bare XREADGROUP+XACK loop reads the same stream with a
group of its own, and so does the shared Consumer with a handler that does nothing
(what every consumer pays to parse and validate events before any work of its
own). The bench process tunes its cycle collector as ``python -m analytics`` does
(``freeze_heap``), which helps the no-op Consumer run in it too. Who goes first
turns from run to run; figures are medians, by wall time and by CPU seconds of the
bench process; the events/s ratios are medians of each run's own ratio, with their
spread. Bytes and commands per event are the server's counters around ours.

Metrics: the whole background recompute (tie arrays from the tie records, strength,
degree, betweenness, Louvain, density, isolates, bridges, insight detectors) on synthetic social
graphs of 100, 1,000 and 10,000 agents with a realistic degree (a power-law
cluster graph: mean degree ~12, heavy tail, high clustering).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from typing import Any

import networkx as nx

from analytics import centrality
from analytics import graph as graphs
from analytics.insights import View, detect
from analytics.params import Params
from analytics.state import Edge, Node
from analytics.system import AnalyticsSystem
from bench.bus import consume_raw
from bench.common import Figure, bench_redis, median, timed
from bench.synthetic import committed_log
from scrai.bus import Consumer, publish_many
from scrai.connection import connect
from scrai.events import Event
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import save_scenario
from scrai.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analytics")
    group.add_argument("--analytics-agents", type=int, default=500, help="agents in the town")
    group.add_argument("--analytics-ticks", type=int, default=40, help="ticks of committed log")
    group.add_argument("--analytics-runs", type=int, default=3, help="measured ingest runs")
    group.add_argument(
        "--analytics-sizes", default="100,1000,10000", help="graph sizes for the metric figures"
    )


def town(agents: int, side: int, seed: int = 1) -> Scenario:
    places = []
    for r in range(side):
        for c in range(side):
            nbrs = [
                f"c{rr}-{cc}"
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                if 0 <= rr < side and 0 <= cc < side
            ]
            places.append(
                {
                    "id": f"c{r}-{c}",
                    "name": f"{r},{c}",
                    "position": (c * 10.0, r * 10.0),
                    "neighbors": nbrs,
                }
            )
    objects = [
        {"id": f"o{i}", "kind": "thing", "place": places[(i * 7) % len(places)]["id"]}
        for i in range(max(1, len(places) // 4))
    ]
    rng = random.Random(seed)
    cast = [
        {"id": f"a{i:05d}", "name": f"Agent {i}", "place": rng.choice(places)["id"]}
        for i in range(agents)
    ]
    return Scenario.model_validate(
        {
            "name": "bench town",
            "seed": seed,
            "world": {"places": places, "objects": objects},
            "agents": cast,
        }
    )


async def consume_noop(redis: Any, keys: Keys, stream: str, batch: int) -> None:
    """The shared Consumer (parse, validate, ack in MULTI/EXEC) with a handler that does nothing."""

    async def handler(deliveries: Any, tx: Any) -> None:
        return None

    consumer = Consumer(
        redis, stream, "noop", "bench", handler, keys=keys, batch_size=batch, dedupe=False
    )
    await consumer.run(burst=True)


async def redis_counts(redis: Any) -> tuple[int, int]:
    """Bytes the server has read from clients and commands it has run (this server, so far;
    a shared server counts its other clients too)."""
    stats = await redis.info("stats")
    return stats["total_net_input_bytes"], stats["total_commands_processed"]


async def cpu_timed(work: Any) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds that ``work()`` took."""
    cpu = time.process_time()
    wall = await timed(work)
    return wall, time.process_time() - cpu


async def ingest_once(
    url: str, scenario: Scenario, log: list[Event], turn: int = 0
) -> list[tuple[float, float]]:
    """(events/s, events per CPU second) of ours, raw XREADGROUP+XACK and the no-op Consumer;
    then (bytes to the server, commands) per event of ours."""
    settings = Settings(redis_url=url, namespace=f"bench-an-{uuid.uuid4().hex[:8]}")
    keys = Keys(settings.namespace)
    redis = connect(settings, block_ms=settings.consumer_block_ms)
    try:
        await save_scenario(redis, keys, scenario)
        for i in range(0, len(log), 2_000):
            await publish_many(redis, keys.committed_events, log[i : i + 2_000])
        system = AnalyticsSystem(redis, keys, settings, freeze_heap=True)  # as the process does
        await system.start(asyncio.Event())
        batch = settings.analytics_batch_size
        counts: list[tuple[int, int]] = []

        async def ours() -> None:
            counts.append(await redis_counts(redis))
            await system.committed.run(burst=True)
            counts.append(await redis_counts(redis))

        work = [
            ours,
            lambda: consume_raw(redis, keys.committed_events, "raw", batch),
            lambda: consume_noop(redis, keys, keys.committed_events, batch),
        ]
        # Each on the same stream with a group of its own; who goes first turns with ``turn``,
        # so a load that comes and goes on a shared machine hits all three alike.
        timings: dict[int, tuple[float, float]] = {}
        for i in range(3):
            k = (i + turn) % 3
            timings[k] = await cpu_timed(work[k])
        assert system.state is not None and system.state.meta.events == len(log)
        before, after = counts
        await redis.delete(*[k async for k in redis.scan_iter(f"{settings.namespace}:*")])
        rates = [(len(log) / wall, len(log) / cpu) for wall, cpu in (timings[k] for k in range(3))]
        # The server's side of ours: bytes it took in, commands it ran, per event.
        rates.append(((after[0] - before[0]) / len(log), (after[1] - before[1]) / len(log)))
        return rates
    finally:
        await redis.aclose()


def spread(values: list[float]) -> str:
    """``min-max`` of sorted ratios."""
    return f"{values[0]:.2f}-{values[-1]:.2f}"


def social_graph(n: int, seed: int = 3) -> tuple[dict[str, Node], list[Edge], Params]:
    """Tie records shaped like a town's: power-law degree with clustering, strengths spread out."""
    g = nx.powerlaw_cluster_graph(n, 6, 0.3, seed=seed)
    rng = random.Random(seed)
    nodes = {f"a{v:05d}": Node(f"a{v:05d}", f"Agent {v}") for v in g.nodes}
    edges = []
    for u, v in g.edges:
        a, b = sorted((f"a{u:05d}", f"a{v:05d}"))
        e = Edge(a, b, s_prox=rng.expovariate(1.0), s_conv=rng.expovariate(0.5), s_tick=100)
        edges.append(e)
    return nodes, edges, Params(seed=seed)


def metric_time(n: int) -> tuple[float, int, str]:
    """The metrics run as the AnalyticsSystem does it: tie arrays from the records, then
    strength, degree, betweenness, Louvain, density, isolates, bridges (igraph), then the
    insight detectors over the result (against the communities of a differently seeded run,
    so factions form and split)."""
    nodes, edges, params = social_graph(n)
    ids, pairs, weights = graphs.tie_arrays(nodes, edges, params, 100, params.min_tie_strength)
    before = centrality.compute(ids, pairs, weights, seed=params.seed + 1)["communities"]
    start = time.perf_counter()
    ids, pairs, weights = graphs.tie_arrays(nodes, edges, params, 100, params.min_tie_strength)
    result = centrality.compute(ids, pairs, weights, seed=params.seed)
    view = View(
        params=params,
        tick=100,
        nodes=nodes,
        edges={e.key: e for e in edges},
        metrics=result,
        previous_communities=before,
    )
    detect(view)
    return time.perf_counter() - start, len(pairs), result["graph"]["betweenness"]


async def run(args: argparse.Namespace) -> list[Figure]:
    agents, ticks = args.analytics_agents, args.analytics_ticks
    side = max(2, int((agents / 3) ** 0.5))  # about three agents a place
    scenario = town(agents, side)
    log = committed_log(scenario, ticks, seed=2)
    runs = []
    async with bench_redis() as url:
        await ingest_once(url, scenario, log[: min(len(log), 2_000)])  # warm up
        for turn in range(args.analytics_runs):
            runs.append(await ingest_once(url, scenario, log, turn))
    ours, raw, noop = ([run[i][0] for run in runs] for i in range(3))
    # Ratios run by run (ours and raw measured minutes apart at most): their median, and spread.
    ours_ratios = sorted(o / r for o, r in zip(ours, raw, strict=True))
    noop_ratios = sorted(n / r for n, r in zip(noop, raw, strict=True))
    # Per CPU second of this process: steadier than wall time on a machine others load too
    # (Redis's own work is left out of it, for both).
    ours_cpu, raw_cpu, noop_cpu = ([run[i][1] for run in runs] for i in range(3))
    batch = Settings(redis_url="redis://unused").analytics_batch_size
    figures = [
        Figure(
            f"AnalyticsSystem ingest ({agents} agents, {len(log):,} entries, batch {batch}; "
            f"ratio per run {spread(ours_ratios)})",
            median(ours),
            "events/s",
            median(raw),
            median(ours_ratios),
        ),
        Figure(f"raw XREADGROUP+XACK (same entries, batch {batch})", median(raw), "events/s"),
        Figure(
            f"shared Consumer, no-op handler (same entries; ratio per run {spread(noop_ratios)})",
            median(noop),
            "events/s",
            median(raw),
            median(noop_ratios),
        ),
        Figure.against(
            "AnalyticsSystem ingest per CPU second of the client (raw's as baseline)",
            median(ours_cpu),
            "events/cpu-s",
            median(raw_cpu),
        ),
        Figure.against(
            "shared Consumer, no-op handler, per CPU second of the client",
            median(noop_cpu),
            "events/cpu-s",
            median(raw_cpu),
        ),
        Figure(
            "AnalyticsSystem ingest: bytes sent to Redis per event (tables, position, ack)",
            median(run[3][0] for run in runs),
            "bytes",
        ),
        Figure(
            "AnalyticsSystem ingest: Redis commands per event",
            median(run[3][1] for run in runs),
            "commands",
        ),
    ]
    metric_time(50)  # warm up: the metrics process imports igraph once, not per run
    for n in (int(s) for s in args.analytics_sizes.split(",")):
        seconds, m, mode = metric_time(n)
        label = f"metrics recompute, {n:,} agents ({m:,} ties, betweenness {mode})"
        figures.append(Figure(label, seconds * 1000, "ms"))
    return figures
