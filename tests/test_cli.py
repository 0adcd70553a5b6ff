"""The ``scrai`` command as a user runs it: ``scrai world`` and ``scrai clock``."""

from __future__ import annotations

from scrai.scenario.store import save_scenario
from scrai.world.state import load_clock
from tests.helpers import run_scrai
from tests.scenarios import line_town


async def test_clock_requests_land_in_the_control_hash(redis, keys, subprocess_env):
    assert (await run_scrai(subprocess_env, "clock", "pause"))[0] == 0
    assert (await run_scrai(subprocess_env, "clock", "step", "3"))[0] == 0
    assert (await run_scrai(subprocess_env, "clock", "speed", "2.5"))[0] == 0
    assert await redis.hgetall(keys.clock_control) == {
        "state": "paused",
        "steps": "3",
        "speed": "2.5",
    }
    code, out = await run_scrai(subprocess_env, "clock", "speed", "0")
    assert code == 2 and "usage" in out
    assert (await run_scrai(subprocess_env, "clock", "rewind"))[0] == 2


async def test_scrai_world_runs_to_max_ticks(redis, keys, subprocess_env):
    await save_scenario(redis, keys, line_town(tick_deadline_s=0.05))
    code, out = await run_scrai(subprocess_env, "world", "--max-ticks", "2")
    assert code == 0, out[-2000:]
    clock = await load_clock(redis, keys)
    assert (clock.last_closed, clock.state) == (2, "finished")
