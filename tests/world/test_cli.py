"""``scrai world`` and ``scrai clock`` as a user runs them."""

from __future__ import annotations

import asyncio
import sys

from scrai.scenario.store import save_scenario
from scrai.world.state import load_clock
from tests.world.town import town


async def scrai(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrai", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_clock_requests_land_in_the_control_hash(redis, keys, subprocess_env):
    assert (await scrai(subprocess_env, "clock", "pause"))[0] == 0
    assert (await scrai(subprocess_env, "clock", "step", "3"))[0] == 0
    assert (await scrai(subprocess_env, "clock", "speed", "2.5"))[0] == 0
    assert await redis.hgetall(keys.clock_control) == {
        "state": "paused",
        "steps": "3",
        "speed": "2.5",
    }
    code, out = await scrai(subprocess_env, "clock", "speed", "0")
    assert code == 2 and "usage" in out
    assert (await scrai(subprocess_env, "clock", "rewind"))[0] == 2


async def test_scrai_world_runs_to_max_ticks(redis, keys, subprocess_env):
    await save_scenario(redis, keys, town(tick_deadline_s=0.05))
    code, out = await scrai(subprocess_env, "world", "--max-ticks", "2")
    assert code == 0, out[-2000:]
    clock = await load_clock(redis, keys)
    assert (clock.last_closed, clock.state) == (2, "finished")
