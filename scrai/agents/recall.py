"""Recall for many agents in one round trip, and reflections written as memories.

A thin layer over the memory store (``scrai.memory.store``) for a worker: its
recall is :meth:`MemoryStore.recall_many` (one server-side read for every agent
that needs to recall this tick, then the store's one ranking path), and its
reflections go through :meth:`MemoryStore.queue_add` with the agent's action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from scrai.agents.decision import RecalledMemory
from scrai.keys import Keys
from scrai.memory.model import Memory, memory_id
from scrai.memory.scoring import keywords
from scrai.memory.store import MemoryStore
from scrai.scenario.model import MemorySettings


class BatchRecall:
    """Recall and reflection writes for the agents of one worker."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: MemorySettings) -> None:
        self.store = MemoryStore(redis, keys, settings)

    async def recall_many(
        self, requests: Sequence[tuple[str, Sequence[str]]], now_tick: int, k: int = 5
    ) -> list[list[RecalledMemory]]:
        """For each (agent id, query): its ``k`` best memories at ``now_tick``."""
        return await self.store.recall_many(requests, now_tick, k)

    def queue_reflections(self, tx: Pipeline, agent_id: str, made: list[dict[str, Any]]) -> None:
        """Queue the agent's new reflections on ``tx`` (written with its action, atomically)."""
        memories = [
            Memory(
                id=memory_id(agent_id, "reflection", r["tick"], i),
                agent_id=agent_id,
                tick=r["tick"],
                kind="reflection",
                text=r["text"],
                importance=r["importance"],
                keywords=keywords(r["text"], ids=r["keywords"]),
            )
            for i, r in enumerate(made)
        ]
        self.store.queue_add(tx, agent_id, memories)
