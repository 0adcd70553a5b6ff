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
