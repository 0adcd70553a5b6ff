"""A consumer group paused while its stream grows: retention waits for it; memory comes back.

The real world system (a process) rejects every action the test plays for a crowd of
agents, so ``world_state_rejected_events`` grows by one entry per agent per tick. The
real analytics process reads that stream in its group — and is frozen (SIGSTOP) while
the stream grows well past the retention length. Retention passes run meanwhile: the
world's own (it trims at start and every ``TRIM_EVERY_S``) and :func:`scrai.bus.trim`, the function
it calls, run by the test after every tick. Not one entry analytics has yet to read may
go. Once analytics is thawed (SIGCONT) it counts every rejection the world made, and
the next passes bring the stream back to the retention length: the stream's memory
(``MEMORY USAGE``) and the server's (``INFO memory used_memory``) stay bounded while the
run goes on at full speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from scrai.bus import trim
from scrai.bus.retention import parse_id
from scrai.events import Interact, TickEvent, parse_event
from scrai.scenario.store import save_scenario
from tests.helpers import wait_for
from tests.scenarios import crowd
from tests.world.driver import Cast, closed

pytestmark = [pytest.mark.slow]

AGENTS = 150
RETENTION = 1_000  # the smallest SCRAI_STREAM_RETENTION_MAX_LEN allows
PAUSED_TICKS = 30  # 4,500 rejections while analytics is frozen


def refused(_agent: str, _tick: int) -> Interact:
    return Interact(object_id="no-such-object")  # rejected: unknown_target


async def rejections_made(redis, keys) -> int:  # type: ignore[no-untyped-def]
    """What the world says it rejected, from its TickEvents (the committed stream is whole)."""
    total = 0
    for _, fields in await redis.xrange(keys.committed_events):
        event = parse_event(fields)
        if isinstance(event, TickEvent):
            total += event.payload.rejected
    return total


async def rejections_counted(redis, keys) -> int:  # type: ignore[no-untyped-def]
    counts = await redis.hgetall(keys.analytics("rejections"))
    return sum(int(v) for k, v in counts.items() if k.startswith("reason:"))


async def unread(redis, stream: str, group: str, ids: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Those of ``ids`` that ``group`` has not read, or read and not acknowledged."""
    info = {g["name"]: g for g in await redis.xinfo_groups(stream)}[group]
    needed = parse_id(info["last-delivered-id"])
    needed = (needed[0], needed[1] + 1)
    if info["pending"]:
        oldest = (await redis.xpending(stream, group))["min"]
        needed = min(needed, parse_id(oldest)) if oldest else needed
    return [i for i in ids if parse_id(i) >= needed]


@pytest.mark.timeout(240)
async def test_retention_waits_for_a_paused_group_and_memory_comes_back(
    redis, keys, subprocess_env, tmp_path
) -> None:
    scenario = crowd(AGENTS, tick_interval_s=0, tick_deadline_s=30)
    await save_scenario(redis, keys, scenario)
    env = {**subprocess_env, "SCRAI_STREAM_RETENTION_MAX_LEN": str(RETENTION)}
    stream = keys.rejected_events
    cast = Cast(redis, keys, [a.id for a in scenario.agents], refused)
    procs = []
    log = (tmp_path / "services.log").open("ab")
    try:
        for module in ("scrai.world", "analytics"):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", module, env=env, stdout=log, stderr=log
                )
            )
        world, analytics = procs
        await cast.play(3)
        await wait_for(lambda: _groups_ready(redis, stream), timeout_s=60)
        await wait_for(lambda: _caught_up(redis, keys, stream), timeout_s=60)
        baseline = (await redis.info("memory"))["used_memory"]

        os.kill(analytics.pid, signal.SIGSTOP)  # the group stops reading, the stream grows
        seen: list[str] = [i for i, _ in await redis.xrange(stream)]
        for tick in range(4, 4 + PAUSED_TICKS):
            await cast.play(tick)
            seen += [i for i, _ in await redis.xrange(stream, f"({seen[-1]}", "+")]
            await trim(redis, stream, RETENTION)
            await trim(redis, keys.action_events, RETENTION)  # the world's other trimmed stream
            needed = await unread(redis, stream, "analytics", seen)
            kept = {i for i, _ in await redis.xrange(stream, needed[0], "+")} if needed else set()
            lost = [i for i in needed if i not in kept]
            assert not lost, f"{len(lost)} entries analytics has not read were trimmed"
        paused_len = await redis.xlen(stream)
        assert paused_len >= AGENTS * PAUSED_TICKS  # nothing unread was trimmed
        peak = (await redis.info("memory"))["used_memory"]
        peak_stream = await redis.memory_usage(stream)

        os.kill(analytics.pid, signal.SIGCONT)
        await wait_for(lambda: closed(redis, keys, 3 + PAUSED_TICKS), timeout_s=60)
        await wait_for(lambda: _caught_up(redis, keys, stream), timeout_s=90)
        assert await rejections_counted(redis, keys) == await rejections_made(redis, keys)

        # Read and acknowledged: the next passes bring the stream back to its length, and
        # it stays there while as many rejections again go through.
        lengths, usages = [], []
        for tick in range(4 + PAUSED_TICKS, 4 + 2 * PAUSED_TICKS):
            await cast.play(tick)
            await wait_for(lambda: _caught_up(redis, keys, stream), timeout_s=60)
            await trim(redis, stream, RETENTION)
            await trim(redis, keys.action_events, RETENTION)
            lengths.append(await redis.xlen(stream))
            usages.append(await redis.memory_usage(stream))
        after = (await redis.info("memory"))["used_memory"]
        # What grows on purpose: the committed log (kept whole, analytics rebuilds from it)
        # and the dedupe markers (kept consumer_dedupe_window_s, ten minutes by default).
        by_design = {
            "committed": await redis.memory_usage(keys.committed_events) or 0,
            "dedupe": sum(
                [
                    await redis.memory_usage(k) or 0
                    async for k in redis.scan_iter(match=f"{keys.namespace}:*:seen:*")
                ]
            ),
        }
        assert await redis.xlen(keys.action_events) <= RETENTION + AGENTS
        # A tick's rejections may land between the catch-up check and the pass: unread, kept.
        assert max(lengths) <= RETENTION + AGENTS, lengths
        assert max(usages) < peak_stream / 2, (max(usages), peak_stream)
        await wait_for(lambda: closed(redis, keys, 3 + 2 * PAUSED_TICKS), timeout_s=60)
        await wait_for(lambda: _caught_up(redis, keys, stream), timeout_s=60)
        assert await rejections_counted(redis, keys) == await rejections_made(redis, keys)
        assert world.returncode is None and analytics.returncode is None
    finally:
        for proc in procs:
            if proc.returncode is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 30)
        log.close()
    mb = 1024 * 1024
    print(
        f"\npaused group: stream grew to {paused_len} entries (retention {RETENTION}) with none "
        f"unread trimmed; stream memory {peak_stream / mb:.2f} MB paused -> "
        f"{max(usages) / mb:.2f} MB max after; used_memory baseline {baseline / mb:.1f} MB, "
        f"paused {peak / mb:.1f} MB, after {after / mb:.1f} MB, of which by design (committed "
        f"log, dedupe markers) {by_design['committed'] / mb:.2f} + "
        f"{by_design['dedupe'] / mb:.2f} MB"
    )


async def _groups_ready(redis, stream: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        return any(g["name"] == "analytics" for g in await redis.xinfo_groups(stream))
    except Exception:
        return False


async def _caught_up(redis, keys, stream: str) -> bool:  # type: ignore[no-untyped-def]
    last = await redis.xrevrange(stream, count=1)
    if not last:
        return False
    if await redis.hget(keys.analytics("meta"), "rejected_position") != last[0][0]:
        return False
    return (await redis.xpending(stream, "analytics"))["pending"] == 0
