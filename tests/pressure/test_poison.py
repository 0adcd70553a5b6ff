"""Well-formed events no handler should apply: a commit for an agent the scenario lacks.

The committed stream is written by the world alone, which never commits for an agent
outside the scenario; an entry that does is forged or corrupt. Each consumer must keep
it out of what it serves: dead-letter it (with its reason) or skip it, never fold it.
"""

from __future__ import annotations

from scrai.bus import publish_many
from scrai.events import Idle, WorldStateCommittedEvent
from scrai.memory.consolidator import MemoryConsolidator
from tests.analytics.runs import drain, publish_run
from tests.analytics.synth import World
from tests.events_factory import committed
from tests.scenarios import grid_town


def ghost_commit(tick: int) -> WorldStateCommittedEvent:
    return committed("ghost", 1, tick, Idle(), before={"agent:ghost": {"place": "nowhere"}})


async def _run_with_ghost(redis, keys):  # type: ignore[no-untyped-def]
    world = World(grid_town(agents=6)).random_run(20, seed=3)
    await publish_run(redis, keys, world)
    await publish_many(redis, keys.committed_events, [ghost_commit(world.committed[-1].tick)])
    return world


async def test_memory_keeps_a_commit_for_an_unknown_agent_out(redis, keys, settings) -> None:
    world = await _run_with_ghost(redis, keys)
    await MemoryConsolidator(redis, keys, world.scenario, settings=settings).run(burst=True)
    assert await redis.zcard(keys.memories("ghost")) == 0
    assert (await redis.xpending(keys.committed_events, "memory"))["pending"] == 0


async def test_analytics_keeps_a_commit_for_an_unknown_agent_out(redis, keys, settings) -> None:
    await _run_with_ghost(redis, keys)
    await drain(redis, keys, settings)
    assert (await redis.xpending(keys.committed_events, "analytics"))["pending"] == 0
    assert "ghost" not in await redis.hkeys(keys.analytics("nodes"))
