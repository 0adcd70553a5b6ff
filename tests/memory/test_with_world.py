"""The consolidator on the committed log of the real world system (the test plays the agents)."""

from __future__ import annotations

from scrai.events import Idle, Interact, Move, Speak
from scrai.memory.consolidator import MemoryConsolidator
from scrai.memory.store import MemoryStore
from scrai.scenario.store import save_scenario
from tests.helpers import wait_for
from tests.scenarios import village
from tests.world.driver import Cast, closed, running_world

PLAN = {
    ("alice", 1): Speak(to="bob", text="Will you bake for the festival?"),
    ("carol", 1): Move(to="mill"),  # moves after Alice spoke (the world applies in id order)
    ("bob", 2): Interact(object_id="oven"),
    ("alice", 2): Move(to="square"),
}


async def test_memories_from_a_real_world_run(redis, keys, settings):
    scenario = village(consolidate_every_ticks=2)
    scenario = scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update={"tick_deadline_s": 30})}
    )
    await save_scenario(redis, keys, scenario)
    agents = [a.id for a in scenario.agents]
    cast = Cast(redis, keys, agents, lambda agent, tick: PLAN.get((agent, tick), Idle()))

    async with running_world(settings):
        await cast.play(2)
        await wait_for(lambda: closed(redis, keys, 2), timeout_s=30)
    consolidator = MemoryConsolidator(redis, keys, scenario, settings=settings)
    stats = await consolidator.run(burst=True)
    assert stats.handled == 2 * len(agents) + 2 and stats.dead_lettered == 0

    store = MemoryStore(redis, keys, scenario.memory)
    texts = {a: [m.text for m in await store.recent(a, 20)] for a in agents}
    assert 'Alice said to me: "Will you bake for the festival?"' in texts["bob"]
    assert 'I heard Alice say to Bob: "Will you bake for the festival?"' in texts["carol"]
    assert "I saw Bob use the oven at the Bakery." in texts["alice"]
    assert "I used the oven at the Bakery." in texts["bob"]
    assert "I went from the Square to the Mill." in texts["carol"]
    # Far away in the park and idle: nothing worth a memory of its own, only the summary.
    assert texts["dave"] == ["Spent the night of day 1 quietly at the Park."]
    # The close of tick 1 ((1 + 1) % 2 == 0) summarised the first tick for everyone.
    summaries = [t for t in texts["bob"] if t.startswith("Spent")]
    assert summaries == [
        "Spent the night of day 1 at the Bakery with Alice; talked about festival once."
    ]
