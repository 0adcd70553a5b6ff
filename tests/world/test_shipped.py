"""The shipped scenarios seed and run in the world system (loaded by the scenario loader)."""

from __future__ import annotations

import pytest

from scrai.events import Idle, TickEvent
from scrai.scenario.loader import load_scenario_file
from scrai.scenario.store import save_scenario
from scrai.world.state import WorldReader, load_clock
from tests.conftest import ROOT
from tests.helpers import wait_for
from tests.world.driver import Cast, read_log, running_world


@pytest.mark.parametrize(
    "name", ["default", "smallville", pytest.param("crowd", marks=pytest.mark.slow)]
)
async def test_shipped_scenario_runs_three_ticks(redis, keys, settings, name):
    scenario = load_scenario_file(ROOT / "scenarios" / f"{name}.yml")
    await save_scenario(redis, keys, scenario)
    agents = [a.id for a in scenario.agents]
    cast = Cast(redis, keys, agents, lambda agent, tick: Idle())
    async with running_world(settings, max_ticks=3):
        await cast.play(3)
        await wait_for(lambda: _finished(redis, keys), timeout_s=30)
    log, rejected = await read_log(redis, keys)
    assert rejected == []
    ticks = [e for e in log if isinstance(e, TickEvent)]
    assert [(t.tick, t.payload.committed) for t in ticks] == [(i, len(agents)) for i in (1, 2, 3)]
    stored = await WorldReader(redis, keys, scenario).agents()
    assert {a: s.place for a, s in stored.items()} == {a.id: a.place for a in scenario.agents}
    assert all(s.commit_seq == 3 for s in stored.values())


async def _finished(redis, keys) -> bool:
    clock = await load_clock(redis, keys)
    return clock is not None and clock.state == "finished"
