"""Clock controls against the running world: pause, step, resume, speed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from scrai.events import Idle
from scrai.scenario.store import save_scenario
from scrai.world.clock import request
from scrai.world.state import load_clock
from tests.helpers import wait_for
from tests.scenarios import line_town
from tests.world.driver import Cast, running_world

AGENTS = ["alice", "bob", "carol", "dan", "eve"]


@asynccontextmanager
async def playing(cast: Cast) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(cast.play(1_000_000, timeout_s=60))
    try:
        yield task
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def test_pause_step_resume(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings), playing(cast):
        await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.last_closed >= 2), timeout_s=30
        )
        await request(redis, keys, state="paused")
        paused = await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.state == "paused" and not c.is_open),
            timeout_s=30,
        )
        start = paused.tick
        assert not await redis.exists(keys.clock_control)  # the request was applied and cleared

        await request(redis, keys, steps=2)
        stepped = await wait_for(
            lambda: clock_matches(
                redis, keys, lambda c: c.last_closed >= start + 2 and not c.is_open
            ),
            timeout_s=30,
        )
        # exactly two ticks ran, and the world is paused again
        assert (stepped.tick, stepped.last_closed) == (start + 2, start + 2)
        assert stepped.state == "paused"
        assert stepped.steps == 0

        await request(redis, keys, state="running")
        await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.last_closed >= start + 5), timeout_s=30
        )
    ticks = [fields for _, fields in await redis.xrange(keys.committed_events)]
    tick_events = [f for f in ticks if f["type"] == "tick"]
    assert [int(f["tick"]) for f in tick_events] == list(range(1, len(tick_events) + 1))


async def test_steps_are_ignored_while_running(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings), playing(cast):
        await request(redis, keys, steps=5)
        await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.last_closed >= 2), timeout_s=30
        )
        await request(redis, keys, state="paused")
        paused = await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.state == "paused" and not c.is_open),
            timeout_s=30,
        )
    assert paused.steps == 0


async def test_speed_scales_interval_and_deadline(redis, keys, settings):
    # At speed 1 a tick opens every 5 s (tick 4 at 15 s at the earliest); at speed 50, every 0.1 s.
    await save_scenario(redis, keys, line_town(tick_interval_s=5, tick_deadline_s=30))
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings), playing(cast):
        first = await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.tick >= 1), timeout_s=30
        )
        assert first.deadline_at - first.opened_at == 30
        await request(redis, keys, speed=50)
        fast = await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.last_closed >= 4), timeout_s=12
        )
    assert fast.speed == 50
    assert abs((fast.deadline_at - fast.opened_at) - 30 / 50) < 1e-6


async def clock_matches(redis, keys, predicate):
    clock = await load_clock(redis, keys)
    return clock if clock is not None and predicate(clock) else None


async def world_health(redis, keys, predicate):
    raw = await redis.get(keys.health("world"))
    health = json.loads(raw) if raw else None
    return health if health is not None and predicate(health) else None


async def test_a_new_runs_first_tick_waits_for_its_whole_cast(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    all_but_one = Cast(redis, keys, AGENTS[:-1], lambda agent, tick: Idle())
    async with running_world(settings, cast_wait_s=120):
        await all_but_one.keep_alive()
        alive_at = time.time()
        # The world has looked again since four of five came alive: still no tick.
        health = await wait_for(
            lambda: world_health(redis, keys, lambda h: h["at"] > alive_at + 0.5), timeout_s=30
        )
        assert health["awaiting_cast"] is True
        clock = await load_clock(redis, keys)
        assert clock is not None and clock.tick == 0 and not clock.is_open

        cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
        await cast.play(2, timeout_s=30)  # the last one comes alive: the run starts
        await wait_for(lambda: clock_matches(redis, keys, lambda c: c.last_closed >= 2), 30)
        await wait_for(lambda: world_health(redis, keys, lambda h: not h["awaiting_cast"]), 30)
    committed = [f for _, f in await redis.xrange(keys.committed_events) if f["type"] != "tick"]
    assert len(committed) == 2 * len(AGENTS)  # no tick ran short of anyone


async def test_the_wait_for_the_cast_ends_after_its_time(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    started = time.monotonic()
    async with running_world(settings, cast_wait_s=1.0):
        await wait_for(lambda: clock_matches(redis, keys, lambda c: c.is_open), timeout_s=30)
    assert time.monotonic() - started >= 1.0  # nobody came: tick 1 opened on time anyway


async def test_a_resumed_world_does_not_wait_for_its_cast(redis, keys, settings):
    await save_scenario(redis, keys, line_town(tick_interval_s=0, tick_deadline_s=30))
    cast = Cast(redis, keys, AGENTS, lambda agent, tick: Idle())
    async with running_world(settings), playing(cast):
        await wait_for(lambda: clock_matches(redis, keys, lambda c: c.last_closed >= 2), 30)
    await redis.delete(keys.agents_alive)
    last = (await load_clock(redis, keys)).tick
    # A run under way goes on at once, whoever is alive: only a new run waits.
    async with running_world(settings, cast_wait_s=120):
        await wait_for(
            lambda: clock_matches(redis, keys, lambda c: c.tick > last and c.is_open), timeout_s=30
        )
