"""The worker's batch recall against the real server: ranking, and entries it must skip."""

from __future__ import annotations

from scrai.agents.recall import BatchRecall
from scrai.memory.model import Memory
from scrai.memory.store import MemoryStore
from scrai.scenario.model import MemorySettings


def memory(mid: str, tick: int, importance: float, words: list[str]) -> Memory:
    return Memory(mid, "alice", tick, "observation", f"memory {mid}", importance, words)


async def test_batch_recall_ranks_like_the_store_and_skips_unreadable_entries(redis, keys):
    settings = MemorySettings()
    store = MemoryStore(redis, keys, settings)
    await store.add(
        "alice",
        [
            memory("m1", 10, 2, ["bakery", "bread"]),
            memory("m2", 5, 8, ["festival", "bob"]),
            memory("m3", 0, 5, ["festival", "park"]),
        ],
    )
    recall = BatchRecall(redis, keys, settings)
    (good,) = await recall.recall_many([("alice", ["festival"])], 10, k=3)
    expected = await store.recall("alice", ["festival"], 10, k=3)
    assert good == expected and [m.id for m in good] == ["m2", "m3", "m1"]

    # Junk beside them (not JSON, an unknown kind, two values in one entry) is skipped,
    # never split into extra memories nor a reason to lose the good ones.
    two = memory("x1", 9, 9, ["festival"]).to_json() + "," + memory("x2", 9, 9, []).to_json()
    await redis.zadd(keys.memories("alice"), {"not json": 1, '{"kind": "dream"}': 2, two: 3})
    (again,) = await recall.recall_many([("alice", ["festival"])], 10, k=5)
    assert [m.id for m in again] == ["m2", "m3", "m1"]


async def test_batch_recall_skips_what_the_store_would_not_read(redis, keys):
    # A JSON object that lacks a field of a memory (its text, its agent) is not one:
    # the batch path skips it like MemoryStore.all does, and never fails on it.
    settings = MemorySettings()
    store = MemoryStore(redis, keys, settings)
    await store.add("alice", [memory("m1", 3, 4, ["festival"])])
    no_text = '{"id":"x","agent_id":"alice","tick":5,"kind":"observation","importance":9}'
    no_agent = '{"id":"y","tick":5,"kind":"observation","importance":9,"text":"y"}'
    await redis.zadd(keys.memories("alice"), {no_text: 1, no_agent: 2})
    (got,) = await BatchRecall(redis, keys, settings).recall_many([("alice", ["festival"])], 6)
    assert [m.id for m in got] == ["m1"] == [m.id for m in await store.all("alice")]
