"""Soak: a crowd runs for a long while; memory flat, streams bounded, consumers keep up.

The whole pipeline runs as real processes (``tests/chaos/pipeline.py``: world, memory,
analytics, API, spawner and its multiplexed workers). Every few ticks the test samples
the resident memory (VmRSS) of each process, Redis' ``used_memory``, the length of each
stream and each consumer group's lag. At the end:

- memory flat: each process's RSS, and Redis' ``used_memory``, averaged over the last
  quarter of the samples, is within max(15 %, 15 MB) of its mean over the second quarter
  (the first is warm-up). Everything Redis holds has a bound: streams their retention,
  dedupe markers their window, analytics its snapshots kept, each agent its memories.
  The run sets those bounds low enough to be reached within the first quarter
  (retention of ``RETENTION_TICKS`` ticks, a ``DEDUPE_WINDOW_S`` window, ``SNAPSHOTS_KEPT``
  snapshots), so that flat then means nothing grows past them;
- streams bounded: actions, rejections and the committed log stay within the retention
  length (``SCRAI_STREAM_RETENTION_MAX_LEN``, and ``SCRAI_COMMITTED_RETENTION_MAX_LEN``
  for the log) plus what the ``TRIM_EVERY_S`` between the world's trims adds, analytics
  updates within their cap, no dead letters;
- lag bounded: no group is ever more than ``SCRAI_WORLD_MAX_CONSUMER_LAG_TICKS`` (the
  world holds its clock there, see ``scrai/world/pacing.py``) plus 2 ticks' worth of
  entries behind. How often the clock was held is reported: a machine too small for
  the cast shows it there and in ticks/s, not in a lag that grows for ever.

CI runs it short (``SCRAI_SOAK_SECONDS=60``, ``SCRAI_SOAK_AGENTS=200``, the defaults);
the full soak::

    SCRAI_SOAK_SECONDS=1800 SCRAI_SOAK_AGENTS=1000 python -m pytest -m soak tests/soak -s
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from scrai.scenario.store import save_scenario
from scrai.settings import Settings
from scrai.world.system import TRIM_EVERY_S
from tests.chaos.pipeline import Pipeline, last_closed
from tests.helpers import wait_for
from tests.scenarios import crowd

SECONDS = float(os.environ.get("SCRAI_SOAK_SECONDS", "60"))
AGENTS = int(os.environ.get("SCRAI_SOAK_AGENTS", "200"))
TICK_S = float(os.environ.get("SCRAI_SOAK_TICK_S", "0.5"))
RETENTION_TICKS = 30
DEDUPE_WINDOW_S = 30
SNAPSHOTS_KEPT = 10
CLAIM_IDLE_MS = Settings.model_fields["consumer_claim_idle_ms"].default
PER_TICK = AGENTS + 1  # committed entries per tick: an action per agent, then the TickEvent
RETENTION = max(1_000, PER_TICK * RETENTION_TICKS)
WORKERS = max(2, math.ceil(AGENTS / 250))
# The most a group may ever be behind, in ticks' worth of entries: where the world holds
# its clock, plus the tick in flight when it read the lag and the one it was closing.
MAX_LAG_TICKS = Settings.model_fields["world_max_consumer_lag_ticks"].default + 2

pytestmark = [pytest.mark.soak, pytest.mark.slow]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def processes(pipeline: Pipeline) -> dict[str, int]:
    found = {
        name: child.proc.pid
        for name, child in pipeline.supervisor.children.items()
        if child.proc is not None and child.proc.poll() is None
    }
    for i, pid in enumerate(sorted(pipeline.worker_pids())):
        found[f"worker-{i}"] = pid
    return found


@pytest.mark.timeout(int(SECONDS) + 300)
async def test_soak(redis, keys, settings, tmp_path) -> None:
    scenario = crowd(
        AGENTS, places=max(10, AGENTS // 20), tick_interval_s=TICK_S, tick_deadline_s=10
    )
    analytics = scenario.analytics.model_copy(update={"snapshots_kept": SNAPSHOTS_KEPT})
    scenario = scenario.model_copy(update={"analytics": analytics})
    await save_scenario(redis, keys, scenario)
    pipeline = Pipeline(
        settings.redis_url or "",
        keys.namespace,
        tmp_path / "run",
        extra_env={
            "SCRAI_SPAWNER_AGENTS_PER_WORKER": str(math.ceil(AGENTS / WORKERS)),
            "SCRAI_STREAM_RETENTION_MAX_LEN": str(RETENTION),
            "SCRAI_COMMITTED_RETENTION_MAX_LEN": str(RETENTION),
            "SCRAI_CONSUMER_DEDUPE_WINDOW_S": str(DEDUPE_WINDOW_S),
            # The default, not the chaos suites' 2 s (made for quick recovery from kills):
            # a consolidator handling batches of thousands can go longer than that between
            # reads, and would then be taken for dead (its read-ahead entries claimed, the
            # clock no longer held for it).
            "SCRAI_CONSUMER_CLAIM_IDLE_MS": str(CLAIM_IDLE_MS),
        },
    )
    streams = {
        "actions": keys.action_events,
        "committed": keys.committed_events,
        "rejected": keys.rejected_events,
        "updates": keys.analytics_updates,
    }
    groups = [("committed", "memory"), ("committed", "analytics"), ("actions", "world")]
    samples: list[dict] = []

    async def sample() -> dict:
        row: dict = {"t": time.monotonic(), "tick": await last_closed(redis, keys)}
        row["rss"] = {n: rss_mb(p) for n, p in processes(pipeline).items()}
        row["redis_mb"] = (await redis.info("memory"))["used_memory"] / 2**20
        health = await redis.get(keys.health("world"))
        row["held"] = bool(health and json.loads(health).get("waiting_for"))
        for name, stream in streams.items():
            row[name] = await redis.xlen(stream)
        for stream_name, group in groups:
            info = {g["name"]: g for g in await redis.xinfo_groups(streams[stream_name])}
            row[f"lag:{group}"] = (info[group]["lag"] or 0) if group in info else 0
        return row

    try:
        pipeline.start(["memory", "analytics", "api", "spawner"])
        await wait_for(lambda: _alive(redis, keys, AGENTS, pipeline), timeout_s=240)
        pipeline.start(["world"])
        started = time.monotonic()
        await wait_for(lambda: _ticked(redis, keys, 1, pipeline), timeout_s=120)
        while time.monotonic() - started < SECONDS:
            tick = samples[-1]["tick"] if samples else 0
            # a sample every two ticks: paced by the run itself, not by a timer
            await wait_for(lambda t=tick: _ticked(redis, keys, t + 2, pipeline), timeout_s=120)
            samples.append(await sample())
        died = {c.name: c.history for c in pipeline.supervisor.children.values() if c.history}
        assert not died, f"processes died during the soak: {died}"
        dead_letters = sum([await redis.xlen(keys.dead_letter(s)) for s in streams.values()])
        held_mb = {
            "committed log": await _usage_mb(redis, [keys.committed_events]),
            "actions": await _usage_mb(redis, [keys.action_events]),
            "dedupe markers": await _usage_mb(redis, _scan(redis, f"{keys.namespace}:*:seen:*")),
            "snapshots": await _usage_mb(redis, _scan(redis, f"{keys.analytics('snapshot')}*")),
            "memories": await _usage_mb(redis, _scan(redis, f"{keys.namespace}:agent:*")),
        }
    except BaseException:
        print(pipeline.logs())
        raise
    finally:
        await asyncio.to_thread(pipeline.stop)

    elapsed = samples[-1]["t"] - started
    ticks = samples[-1]["tick"]
    assert len(samples) >= 8, "too few samples to judge"
    q = len(samples) // 4
    second, last = samples[q : 2 * q], samples[-q:]
    per_tick = PER_TICK
    problems, lines = [], []
    series = {name: [s["rss"].get(name) for s in samples] for name in samples[-1]["rss"]}
    series["redis"] = [s["redis_mb"] for s in samples]
    for name in sorted(series):
        early = [mb for mb in series[name][q : 2 * q] if mb]
        late = [mb for mb in series[name][-q:] if mb]
        if not early or not late:
            continue  # a worker that came later (none should)
        a, b = statistics.mean(early), statistics.mean(late)
        what = "used_memory" if name == "redis" else "RSS"
        lines.append(f"  {name:>10}: {what} {a:7.1f} -> {b:7.1f} MB")
        if b > a + max(0.15 * a, 15.0):
            problems.append(f"{name} {what} grew {a:.1f} -> {b:.1f} MB")
    longest = {n: max(s[n] for s in samples) for n in streams}
    for name in ("actions", "rejected", "committed"):  # the world trims them every few s
        if longest[name] > RETENTION + per_tick * (TRIM_EVERY_S / TICK_S + 5):
            problems.append(f"{name} stream reached {longest[name]} entries")
    if longest["updates"] > 5_000 * 1.1 + 200:  # analytics' approximate MAXLEN
        problems.append(f"analytics updates reached {longest['updates']} entries")
    if dead_letters:
        problems.append(f"{dead_letters} dead letters")
    lags = {}
    for _, group in groups:
        key = f"lag:{group}"
        peak = max(s[key] for s in samples)
        early_lag = statistics.mean(s[key] for s in second)
        late_lag = statistics.mean(s[key] for s in last)
        lags[group] = f"max {peak}, mean {early_lag:.0f} -> {late_lag:.0f}"
        if peak > per_tick * MAX_LAG_TICKS:
            problems.append(f"{group} lag {lags[group]} entries ({per_tick} per tick)")
    print(
        f"\nsoak: {AGENTS} agents, {elapsed:.0f}s, {ticks} ticks ({ticks * AGENTS} agent-ticks, "
        f"{ticks / elapsed:.2f} ticks/s), {len(samples)} samples\n" + "\n".join(lines) + "\n"
        "  redis used_memory by tenth of the run: "
        + " ".join(f"{series['redis'][len(samples) * i // 10]:.0f}" for i in range(10))
        + f" {series['redis'][-1]:.0f} MB\n"
        "  memory consolidator RSS by tenth of the run: "
        + " ".join(f"{series['memory'][len(samples) * i // 10] or 0:.0f}" for i in range(10))
        + f" {series['memory'][-1] or 0:.0f} MB\n"
        "  redis at the end, by part: "
        + ", ".join(f"{part} {mb:.1f} MB" for part, mb in held_mb.items())
        + f"\n  max lengths: {longest} (retention {RETENTION}); dead letters {dead_letters}\n"
        f"  consumer lag (entries): {lags}; clock held for readers in "
        f"{sum(s['held'] for s in samples)} of {len(samples)} samples"
    )
    assert not problems, problems


def _scan(redis, pattern: str) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    return redis.scan_iter(match=pattern, count=1_000)


async def _usage_mb(redis, keys: Iterable[str] | AsyncIterator[str]) -> float:  # type: ignore[no-untyped-def]
    """MEMORY USAGE of ``keys``, in MB."""
    names = [k async for k in keys] if isinstance(keys, AsyncIterator) else list(keys)
    return sum([await redis.memory_usage(k, samples=0) or 0 for k in names]) / 2**20


async def _alive(redis, keys, count: int, pipeline: Pipeline) -> bool:  # type: ignore[no-untyped-def]
    pipeline.poll()
    return await redis.zcount(keys.agents_alive, time.time(), "+inf") >= count


async def _ticked(redis, keys, tick: int, pipeline: Pipeline) -> bool:  # type: ignore[no-untyped-def]
    pipeline.poll()
    return await last_closed(redis, keys) >= tick
