"""The read API over the world's Redis layout."""

from __future__ import annotations

from scrai.scenario.store import save_scenario
from scrai.world.entities import ObjectState
from scrai.world.state import WorldReader, is_seeded, seed_world
from tests.scenarios import line_town


async def test_reader_over_a_seeded_world(redis, keys):
    scenario = line_town()
    await save_scenario(redis, keys, scenario)
    assert not await is_seeded(redis, keys)
    meta = await seed_world(redis, keys, scenario, run_id="r1")
    assert await is_seeded(redis, keys)
    reader = WorldReader(redis, keys)  # reads the scenario from Redis itself

    assert (await reader.meta())["run_id"] == "r1" == meta["run_id"]
    clock = await reader.clock()
    assert (clock.tick, clock.state, clock.last_closed, clock.is_open) == (0, "running", 0, False)
    assert (await reader.agent("alice")).place == "home"
    assert await reader.agent("nobody") is None
    assert list(await reader.agents()) == ["alice", "bob", "carol", "dan", "eve"]

    square = await reader.place("square")
    assert square.place.name == "Square"
    assert (square.occupants, square.objects) == (["bob", "carol"], ["well"])
    assert await reader.place("atlantis") is None

    near = await reader.near("alice")  # perception range 6
    assert near.place == "home"
    assert near.agents == [("bob", 5.0), ("carol", 5.0)]
    assert near.objects == [("safe", 0.0), ("well", 5.0)]
    wide = await reader.near("alice", 10)
    assert [a for a, _ in wide.agents] == ["bob", "carol", "dan"]
    assert await reader.near("nobody") is None

    assert await reader.reachable_places("alice") == ["square"]
    assert await reader.reachable_places("bob") == ["cafe", "home"]  # the far field is 95 away
    assert await reader.reachable_places("eve") == []  # far: its only link is too long
    assert await reader.reachable_places("nobody") == []


async def test_object_views_show_the_stored_stock(redis, keys):
    scenario = line_town()
    await save_scenario(redis, keys, scenario)
    await seed_world(redis, keys, scenario)
    reader = WorldReader(redis, keys, scenario)
    well = await reader.object("well")
    assert (well.kind, well.place, well.stock, well.rules.refill_per_tick) == (
        "well",
        "square",
        2,
        0.5,
    )
    assert (await reader.object("safe")).stock is None  # endless
    emptied = ObjectState(place="square", resource=0.5, uses=2, last_user="bob", users_tick=4)
    await redis.hset(keys.objects_state, "well", emptied.to_json())
    assert (await reader.object("well")).stock == 0.5
    assert (await reader.objects())["well"].state == emptied
    assert await reader.object("rock") is None
