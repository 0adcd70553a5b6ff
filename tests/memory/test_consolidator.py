"""The consolidator against the real server: committed events in, memories out."""

from __future__ import annotations

import json
import tracemalloc
import uuid

import redis.asyncio as aioredis

from scrai.bus import Delivery, publish_many
from scrai.events import Event, Idle, Interact, Move, Speak, parse_event
from scrai.keys import Keys
from scrai.memory.consolidator import GROUP, MemoryConsolidator
from scrai.memory.store import MemoryStore
from scrai.scenario.model import Scenario
from scrai.settings import Settings
from tests.memory.log import Log
from tests.scenarios import village

INVITE = "Are you coming to the festival tonight?"


async def consolidate(
    redis: aioredis.Redis, keys: Keys, settings: Settings, scenario: Scenario, events: list[Event]
) -> MemoryConsolidator:
    await publish_many(redis, keys.committed_events, events)
    consolidator = MemoryConsolidator(redis, keys, scenario, settings=settings)
    await consolidator.run(burst=True)
    return consolidator


def talk_and_walk(scenario: Scenario, ticks: int) -> list[Event]:
    """Each tick Alice asks Bob about the festival and Bob walks between two places."""
    log = Log(scenario)
    events: list[Event] = []
    for t in range(ticks):
        events.append(log.commit("alice", t, Speak(to="bob", text=f"Tick {t}: festival?"), ["bob"]))
        events.append(log.commit("bob", t, Move(to="square" if t % 2 else "bakery"), ["alice"]))
        events.append(log.close(t))
    return events


async def test_actor_and_observers_remember_what_they_did_saw_and_heard(redis, keys, settings):
    scenario = village()
    log = Log(scenario)
    # Bob is beside Alice, Carol in earshot on the square, Eve at the mill sees but cannot hear.
    events = [log.commit("alice", 1, Speak(to="bob", text=INVITE), ["bob", "carol", "eve"])]
    await consolidate(redis, keys, settings, scenario, events)
    store = MemoryStore(redis, keys, scenario.memory)
    got = {a: await store.recent(a, 10) for a in ("alice", "bob", "carol", "eve", "dave")}

    assert [m.text for m in got["alice"]] == [f'At the Bakery I said to Bob: "{INVITE}"']
    assert [m.text for m in got["bob"]] == [f'Alice said to me: "{INVITE}"']
    assert [m.text for m in got["carol"]] == [f'I heard Alice say to Bob: "{INVITE}"']
    assert [m.text for m in got["eve"]] == ["I saw Alice talking to Bob at the Bakery."]
    assert got["dave"] == []  # not an observer

    # The addressee hears even when not listed as an observer (a scenario whose hearing
    # reaches farther than its sight).
    await consolidate(
        redis, keys, settings, scenario, [log.commit("eve", 2, Speak(to="dave", text="Hi"), [])]
    )
    assert [m.text for m in await store.recent("dave", 5)] == ['Eve said to me: "Hi"']
    kinds = {a: ms[0].kind for a, ms in got.items() if ms}
    assert kinds == {"alice": "conversation", "bob": "conversation", "carol": "conversation",
                     "eve": "observation"}  # fmt: skip
    # Spoken to by a friend > overheard a rival > said it > saw it from afar.
    imp = {a: ms[0].importance for a, ms in got.items() if ms}
    assert imp == {"bob": 9, "carol": 8, "alice": 7, "eve": 3}
    assert "festival" in got["bob"][0].keywords and "alice" in got["bob"][0].keywords
    assert all(m.event_id == str(events[0].event_id) for ms in got.values() for m in ms)


async def test_hearing_follows_where_observers_are_after_they_move(redis, keys, settings):
    scenario = village()
    log = Log(scenario)
    events = [
        log.commit("carol", 1, Move(to="mill"), ["alice", "bob", "eve"]),  # out of Alice's earshot
        log.commit(
            "alice", 1, Speak(text="Fresh bread for the festival!"), ["bob", "carol", "eve"]
        ),
        log.close(1),
    ]
    await consolidate(redis, keys, settings, scenario, events)
    store = MemoryStore(redis, keys, scenario.memory)
    carol = await store.recent("carol", 10)
    assert [m.text for m in carol] == [
        "I saw Alice talking at the Bakery.",
        "I went from the Square to the Mill.",
    ]
    alice = await store.recent("alice", 10)
    assert (
        alice[0].text == 'At the Bakery I said to everyone around: "Fresh bread for the festival!"'
    )
    assert "I saw Carol go from the Square to the Mill." in [m.text for m in alice]
    assert await redis.hget(keys.memory_places, "carol") == "mill"


async def test_comings_and_goings_are_seen_from_where_one_stands(redis, keys, settings):
    scenario = village()
    log = Log(scenario)
    await consolidate(
        redis,
        keys,
        settings,
        scenario,
        [log.commit("bob", 1, Move(to="square"), ["alice", "carol", "eve"])],
    )
    store = MemoryStore(redis, keys, scenario.memory)
    seen = {a: [m.text for m in await store.recent(a, 5)] for a in ("alice", "carol", "eve")}
    assert seen == {
        "alice": ["I saw Bob leave the Bakery for the Square."],
        "carol": ["I saw Bob arrive at the Square from the Bakery."],
        "eve": [],  # a stranger crossing two places away: counted in summaries, not kept
    }
    assert await redis.llen(keys.memory_pending("eve")) == 1


async def test_importance_orders_speech_objects_moves_and_skips_idle(redis, keys, settings):
    scenario = village()
    log = Log(scenario)
    events = [
        log.commit("bob", 1, Interact(object_id="oven"), ["alice"]),
        log.commit("carol", 1, Interact(object_id="oven"), []),  # second user: contested
        log.commit("dave", 1, Move(to="mill"), []),
        log.commit("eve", 1, Idle(reason="resting"), []),
        log.commit("alice", 2, Speak(to="bob", text="Save me a loaf?"), ["bob"]),
    ]
    await consolidate(redis, keys, settings, scenario, events)
    store = MemoryStore(redis, keys, scenario.memory)
    own = {}
    for e in events[:3] + events[4:]:
        own[e.entity_id] = next(
            m for m in await store.recent(e.entity_id, 10) if m.event_id == str(e.event_id)
        )
    assert own["carol"].text == "I used the oven at the Bakery."
    order = sorted(own, key=lambda a: -own[a].importance)
    assert order == ["alice", "carol", "bob", "dave"]  # speech > contested use > use > move
    assert await store.recent("eve", 10) == []  # idling is not worth a memory of its own
    assert await redis.llen(keys.memory_pending("eve")) == 1  # but it counts in summaries


async def test_event_count_trigger_writes_a_summary(redis, keys, settings):
    scenario = village(consolidate_every_events=5, consolidate_every_ticks=1000)
    log = Log(scenario)
    events = [log.commit("bob", t, Idle(), ["alice"]) for t in range(24, 27)]
    events += [log.commit("bob", 27, Interact(object_id="oven"), ["alice"])]
    events += [log.commit("bob", 28, Move(to="square"), ["alice"])]  # 5th fact of Bob's
    consolidator = await consolidate(redis, keys, settings, scenario, events)
    store = MemoryStore(redis, keys, scenario.memory)
    summaries = [m for m in await store.recent("bob", 20) if m.kind == "summary"]
    assert [m.text for m in summaries] == [
        "Spent the morning of day 1 at the Bakery and the Square with Alice; used the oven once."
    ]
    assert summaries[0].tick == 28
    assert await redis.llen(keys.memory_pending("bob")) == 0
    # Alice saw two things only: below the trigger, nothing summarised yet.
    assert await redis.llen(keys.memory_pending("alice")) == 2
    assert consolidator.summaries_written == 1


async def test_time_trigger_summarises_every_agent_with_news(redis, keys, settings):
    scenario = village(consolidate_every_events=1000, consolidate_every_ticks=24)
    log = Log(scenario)
    first: list[Event] = []
    for t in (24, 25, 26):
        first.append(log.commit("alice", t, Speak(to="bob", text=INVITE), ["bob"]))
        first.append(log.commit("bob", t, Idle(), ["alice"]))
        first.append(log.close(t))
    # The earlier part of the morning is consolidated in one run, the close of tick 47 in another,
    # so the trigger has to read pending facts back from Redis.
    store = MemoryStore(redis, keys, scenario.memory)
    assert await store.progress() == -1
    await consolidate(redis, keys, settings, scenario, first)
    assert await store.progress() == 26
    assert [m for m in await store.recent("alice", 20) if m.kind == "summary"] == []
    await consolidate(redis, keys, settings, scenario, [log.close(46), log.close(47)])
    assert await store.progress() == 47

    alice = [m for m in await store.recent("alice", 20) if m.kind == "summary"]
    bob = [m for m in await store.recent("bob", 20) if m.kind == "summary"]
    assert [m.text for m in alice] == [
        "Spent the morning of day 1 at the Bakery with Bob; talked about festival 3 times."
    ]
    assert [m.text for m in bob] == [
        "Spent the morning of day 1 at the Bakery with Alice; talked about festival 3 times."
    ]
    assert alice[0].tick == 47 and "festival" in alice[0].keywords and "bob" in alice[0].keywords
    assert alice[0].importance > 3
    assert await redis.smembers(keys.memory_pending_agents) == set()
    # The next window starts empty: closing tick 71 with no news writes nothing.
    await consolidate(redis, keys, settings, scenario, [log.close(71)])
    assert len([m for m in await store.recent("alice", 20) if m.kind == "summary"]) == 1


async def test_memory_stays_bounded_and_keeps_what_matters(redis, keys, settings):
    scenario = village(max_memories=10, consolidate_every_events=1000)
    log = Log(scenario)
    events: list[Event] = [log.commit("bob", 0, Speak(to="alice", text="I love you"), ["alice"])]
    for t in range(1, 61):
        where = "square" if t % 2 else "bakery"
        events.append(log.commit("bob", t, Move(to=where), ["alice"]))
    await consolidate(redis, keys, settings, scenario, events)
    store = MemoryStore(redis, keys, scenario.memory)
    alice = await store.recent("alice", 100)
    assert await store.count("alice") == 10 and len(alice) == 10
    # The declaration at tick 0 outlives fifty later, duller sightings; the rest are the newest.
    assert alice[-1].text == 'Bob said to me: "I love you"'
    assert [m.tick for m in alice[:9]] == list(range(60, 51, -1))


async def test_recall_through_redis_ranks_by_weighted_score(redis, keys, settings):
    scenario = village()
    log = Log(scenario)
    events = [
        log.commit("bob", 1, Speak(to="alice", text="The festival needs a baker"), ["alice"]),
        log.commit("bob", 2, Move(to="square"), ["alice"]),
        log.commit("carol", 3, Interact(object_id="oven"), ["alice"]),
    ]
    await consolidate(redis, keys, settings, scenario, events)
    store = MemoryStore(redis, keys, scenario.memory)
    recalled = await store.recall("alice", ["festival"], now_tick=4, k=2)
    assert [r.text for r in recalled] == [
        'Bob said to me: "The festival needs a baker"',
        "I saw Carol use the oven at the Bakery.",
    ]
    assert recalled[0].score > recalled[1].score
    assert recalled[0].importance == 9 and recalled[0].tick == 1
    # An entry that is not a memory is skipped, never fatal.
    await redis.zadd(keys.memories("alice"), {"not json": 1, '{"kind": "dream"}': 2, "[]": 3})
    assert [r.text for r in await store.recall("alice", ["festival"], now_tick=4, k=2)] == [
        r.text for r in recalled
    ]
    # Many agents in one round trip, the same answers.
    many = await store.recall_many([("alice", ["festival"]), ("bob", ["oven"])], 4, k=2)
    assert many == [recalled, await store.recall("bob", ["oven"], 4, k=2)]
    # What was known by the end of tick 2, whenever the consolidator got to tick 3.
    assert [r.tick for r in await store.recall("alice", ["oven"], 4, max_tick=2)] == [2, 1]
    # Only recency counts when the other weights are zero: newest first.
    fresh = MemoryStore(
        redis,
        keys,
        scenario.memory.model_copy(update={"importance_weight": 0, "relevance_weight": 0}),
    )
    assert [r.tick for r in await fresh.recall("alice", ["festival"], now_tick=4)] == [3, 2, 1]


async def test_a_new_run_starts_memory_over(redis, keys, settings):
    scenario = village(consolidate_every_events=1000, consolidate_every_ticks=1000)
    first, second = Log(scenario), Log(scenario)
    run_1: list[Event] = [
        first.commit("alice", t, Speak(to="bob", text="Old news"), ["bob"]) for t in (1, 2, 3)
    ]
    run_1 += [first.close(3)]
    await consolidate(redis, keys, settings, scenario, run_1)
    store = MemoryStore(redis, keys, scenario.memory)
    assert len(await store.recent("bob", 10)) == 3 and await store.progress() == 3

    # The world is seeded again: ticks start over (new run id, so new event ids).
    run_2: list[Event] = [second.commit("alice", 1, Speak(to="bob", text="Fresh start"), ["bob"])]
    run_2[0] = run_2[0].model_copy(update={"event_id": uuid.uuid4()})
    run_2 += [second.commit("carol", 1, Move(to="bakery"), ["alice", "bob"]), second.close(1)]
    await consolidate(redis, keys, settings, scenario, run_2)
    assert sorted(m.text for m in await store.recent("bob", 10)) == [
        'Alice said to me: "Fresh start"',
        "I saw Carol arrive at the Bakery from the Square.",
    ]
    assert await store.progress() == 1
    assert await redis.hget(keys.memory_places, "carol") == "bakery"
    assert [json.loads(f)["e"] for f in await redis.lrange(keys.memory_pending("bob"), 0, -1)] == [
        str(e.event_id) for e in run_2[:2]
    ]

    # Replaying the whole stream from the start, the outcome is the same: the last run's.
    ref = Keys(keys.namespace + "-replay")
    await consolidate(redis, ref, settings, scenario, run_1 + run_2)
    assert await redis.zrange(ref.memories("bob"), 0, -1) == await redis.zrange(
        keys.memories("bob"), 0, -1
    )


async def test_restart_mid_stream_writes_nothing_twice(redis, keys, settings, namespace):
    scenario = village(consolidate_every_events=7, consolidate_every_ticks=6)
    events = talk_and_walk(scenario, ticks=12)

    # The reference: one uninterrupted run in another namespace.
    ref_keys = Keys(namespace + "-ref")
    await consolidate(redis, ref_keys, settings, scenario, events)

    await publish_many(redis, keys.committed_events, events)
    first = MemoryConsolidator(redis, keys, scenario, settings=settings, batch_size=5)
    await first.consumer.ensure_group()
    await first.consumer.step(burst=True)
    await first.consumer.step(burst=True)
    assert first.consumer.stats.handled == 10
    # It read five more and died before handling them: they stay pending under its name.
    await redis.xreadgroup(GROUP, "memory-1", {keys.committed_events: ">"}, count=5)
    restarted = MemoryConsolidator(redis, keys, scenario, settings=settings, batch_size=5)
    stats = await restarted.run(burst=True)
    assert stats.handled == len(events) - 10

    for agent in ("alice", "bob"):
        mine = await redis.zrange(keys.memories(agent), 0, -1, withscores=True)
        ref = await redis.zrange(ref_keys.memories(agent), 0, -1, withscores=True)
        assert mine == ref and len(mine) > 12
        ids = [json.loads(m)["id"] for m, _ in mine]
        assert len(ids) == len(set(ids))  # no memory twice
        assert await redis.lrange(keys.memory_pending(agent), 0, -1) == await redis.lrange(
            ref_keys.memory_pending(agent), 0, -1
        )
    summaries = [t for m, _ in mine if (t := json.loads(m))["kind"] == "summary"]
    assert summaries
    assert (await redis.xpending(keys.committed_events, GROUP))["pending"] == 0

    # Replaying the whole stream to a new group member changes nothing (dedupe by event id).
    await publish_many(redis, keys.committed_events, events[:9])
    again = await MemoryConsolidator(redis, keys, scenario, settings=settings).run(burst=True)
    assert again.duplicates == 9 and again.handled == 0
    assert await redis.zrange(keys.memories("bob"), 0, -1, withscores=True) == mine


async def test_a_batch_that_did_not_commit_is_not_trusted(redis, keys, settings, namespace):
    # The consolidator keeps places and pending counts in memory between batches. A batch
    # whose transaction never reached Redis (the connection lost before EXEC) has moved
    # that view on: the next batch must see it is not the stored one and read it again.
    scenario = village(consolidate_every_events=4, consolidate_every_ticks=5)
    events = talk_and_walk(scenario, ticks=8)
    ref_keys = Keys(namespace + "-ref")
    await consolidate(redis, ref_keys, settings, scenario, events)

    await publish_many(redis, keys.committed_events, events)
    consolidator = MemoryConsolidator(redis, keys, scenario, settings=settings, batch_size=4)
    await consolidator.consumer.ensure_group()
    await consolidator.consumer.step(burst=True)
    entries = await redis.xrange(keys.committed_events, count=8)
    lost = [Delivery(stream_id, parse_event(fields)) for stream_id, fields in entries[4:8]]
    async with redis.pipeline(transaction=True) as tx:
        await consolidator.handle(lost, tx)
        assert len(tx.command_stack) > 1  # it queued writes, which are now dropped
        await tx.reset()
    await consolidator.run(burst=True)

    for agent in ("alice", "bob"):
        assert await redis.zrange(keys.memories(agent), 0, -1, withscores=True) == (
            await redis.zrange(ref_keys.memories(agent), 0, -1, withscores=True)
        )
        assert await redis.lrange(keys.memory_pending(agent), 0, -1) == await redis.lrange(
            ref_keys.memory_pending(agent), 0, -1
        )
    assert await redis.hgetall(keys.memory_places) == await redis.hgetall(ref_keys.memory_places)
    assert await redis.smembers(keys.memory_pending_agents) == await redis.smembers(
        ref_keys.memory_pending_agents
    )


async def test_what_it_keeps_between_batches_was_not_made_in_one(redis, keys, settings):
    # Where each agent is and who has facts pending outlive every batch. A string read
    # from an event and kept would hold the allocator's arena it sits in: refreshed every
    # tick by every agent, such strings pinned every arena a big batch had used, and the
    # consolidator's RSS crept up to its biggest batch's peak. It keeps the scenario's.
    scenario = village(consolidate_every_events=50, consolidate_every_ticks=50)
    await publish_many(redis, keys.committed_events, talk_and_walk(scenario, ticks=6))
    consolidator = MemoryConsolidator(redis, keys, scenario, settings=settings, batch_size=4)
    tracemalloc.start()
    try:
        await consolidator.run(burst=True)
        view = consolidator._view
        assert view is not None and view.places["bob"] == "square" and view.stored
        made_in_a_batch = [
            s
            for s in (*view.places, *view.places.values(), *view.stored)
            if s is not None and tracemalloc.get_object_traceback(s) is not None
        ]
    finally:
        tracemalloc.stop()
    assert made_in_a_batch == []
