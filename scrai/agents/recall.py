"""Recall for many agents in one round trip, and reflections written as memories.

Uses the memory store's layout and scoring (``scrai.memory``): one pipelined
``ZRANGE`` for every agent that needs to recall this tick, then the same
recency/importance/relevance ranking ``MemoryStore.recall`` applies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from scrai.agents.decision import RecalledMemory
from scrai.agents.scripts import RANGES
from scrai.keys import Keys
from scrai.memory.model import KINDS, Memory, memory_id
from scrai.memory.scoring import Weights, keywords, rank_parts
from scrai.memory.store import MemoryStore
from scrai.scenario.model import MemorySettings

log = logging.getLogger(__name__)


class BatchRecall:
    """Recall and reflection writes for the agents of one worker."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: MemorySettings) -> None:
        self.keys = keys
        self.settings = settings
        self.store = MemoryStore(redis, keys, settings)
        self.weights = Weights(
            settings.recency_weight, settings.importance_weight, settings.relevance_weight
        )
        self.redis = redis
        self._ranges = redis.register_script(RANGES)

    async def recall_many(
        self, requests: Sequence[tuple[str, Sequence[str]]], now_tick: int, k: int = 5
    ) -> list[list[RecalledMemory]]:
        """For each (agent id, query): its ``k`` best memories at ``now_tick``."""
        if not requests:
            return []
        raws = await self._ranges(keys=[self.keys.memories(agent_id) for agent_id, _ in requests])
        return [
            self._best(agent_id, raw, query, now_tick, k)
            for (agent_id, query), raw in zip(requests, raws, strict=True)
        ]

    def _best(
        self, agent_id: str, raw: list[str], query: Sequence[str], now_tick: int, k: int
    ) -> list[RecalledMemory]:
        # Every agent recalls ~every tick over up to max_memories entries: parse them to
        # plain dicts and rank on their fields; only the k best become records.
        try:  # one parse for the whole set; entry by entry only when one is unreadable
            items = orjson.loads("[" + ",".join(raw) + "]")
            if len(items) != len(raw):  # an entry that is not one JSON value
                raise ValueError("entries do not split")
            ticks = [int(i["tick"]) for i in items]
            importances = [float(i["importance"]) for i in items]
            if not all(i["kind"] in KINDS for i in items):
                raise ValueError("unknown memory kind")
        except (ValueError, KeyError, TypeError):
            items = _readable(agent_id, raw)
            ticks = [i["tick"] for i in items]
            importances = [i["importance"] for i in items]
        best = rank_parts(
            ticks,
            importances,
            [i.get("keywords") or () for i in items],
            [i["text"] for i in items],
            [i["id"] for i in items],
            query,
            now_tick,
            decay=self.settings.recency_decay,
            weights=self.weights,
            k=k,
        )
        return [
            RecalledMemory(
                items[n]["id"],
                ticks[n],
                items[n]["kind"],
                items[n]["text"],
                round(score, 6),
                importances[n],
            )
            for score, n, _, _, _ in best
        ]

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


def _readable(agent_id: str, raw: list[str]) -> list[dict[str, Any]]:
    """The entries that parse as memories; the others are logged and skipped."""
    items = []
    for entry in raw:
        try:
            item = orjson.loads(entry)
            if item["kind"] not in KINDS:
                raise ValueError(f"unknown memory kind {item['kind']!r}")
            item["tick"], item["importance"] = int(item["tick"]), float(item["importance"])
            items.append(item)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping unreadable memory of %s: %s", agent_id, exc)
    return items
