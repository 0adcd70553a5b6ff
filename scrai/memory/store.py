"""Per-agent bounded memory in Redis, and recall over it.

Layout: one sorted set per agent (``keys.memories(agent_id)``) whose members are
the memories' JSON and whose scores are their retention value (see
:func:`scrai.memory.scoring.retention_score`): a newer or more important memory
ranks higher. Trimming to ``max_memories`` is then one ``ZREMRANGEBYRANK`` that
drops the old and trivial first and keeps the important and recent, and it runs
inside the caller's MULTI/EXEC with the write. Because a memory always
serialises to the same bytes, writing it twice stores it once.

Recall reads the whole (bounded) set in one round trip and scores it in Python:
:meth:`MemoryStore.rank` is the one ranking path (the store's recall and the agent
worker's batch recall both use it). It ranks on plain parsed fields and builds a
record only for the ``k`` best: every agent recalls about every tick over up to
``max_memories`` entries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from scrai.agents.decision import RecalledMemory
from scrai.keys import Keys
from scrai.memory.model import KINDS, Memory
from scrai.memory.scoring import Weights, rank_parts, retention_score
from scrai.scenario.model import MemorySettings

log = logging.getLogger(__name__)

# KEYS: sorted sets; returns each one's members, in order. One reply for all of a
# worker's agents, where a pipeline of ZRANGEs costs one awaited read per reply.
RANGES = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('ZRANGE', KEYS[i], 0, -1) end
return out
"""


class MemoryStore:
    """Read and write agents' memories. Cheap to build; holds no state but the client."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: MemorySettings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.weights = Weights(
            recency=settings.recency_weight,
            importance=settings.importance_weight,
            relevance=settings.relevance_weight,
        )
        self._ranges = redis.register_script(RANGES)

    # -- writing ---------------------------------------------------------------------

    def queue_add(self, tx: Pipeline, agent_id: str, memories: Iterable[Memory]) -> int:
        """Queue the write (and the trim) on ``tx``; returns how many memories were queued."""
        mapping = {
            m.to_json(): retention_score(m.tick, m.importance, self.settings.recency_decay)
            for m in memories
        }
        if not mapping:
            return 0
        key = self.keys.memories(agent_id)
        tx.zadd(key, mapping)
        # Keep the top max_memories by retention; ranks count from the lowest score.
        tx.zremrangebyrank(key, 0, -(self.settings.max_memories + 1))
        return len(mapping)

    async def add(self, agent_id: str, memories: Iterable[Memory]) -> None:
        """Write memories now (e.g. reflections from the agent worker), atomically with the trim."""
        async with self.redis.pipeline(transaction=True) as tx:
            if self.queue_add(tx, agent_id, memories):
                await tx.execute()

    # -- reading ---------------------------------------------------------------------

    async def all(self, agent_id: str) -> list[Memory]:
        """Every memory the agent holds (at most ``max_memories``), in no particular order."""
        raw: list[str] = await self.redis.zrange(self.keys.memories(agent_id), 0, -1)  # type: ignore[assignment]
        return _parse(agent_id, raw)

    async def recent(self, agent_id: str, n: int) -> list[Memory]:
        """The ``n`` newest memories, newest first."""
        memories = await self.all(agent_id)
        # Ties by text, not id: ids embed the run id, the order should not.
        memories.sort(key=lambda m: (-m.tick, m.kind != "summary", m.text, m.id))
        return memories[:n]

    async def count(self, agent_id: str) -> int:
        return int(await self.redis.zcard(self.keys.memories(agent_id)))

    async def progress(self) -> int:
        """The last tick the consolidator has written every memory of (-1: none yet).

        A worker that wants the same recall in every run waits for ``progress() >= t - 1``
        (or recalls with ``max_tick`` at a tick already covered) before deciding tick ``t``.
        """
        raw = await self.redis.get(self.keys.memory_progress)
        return int(raw) if raw is not None else -1

    async def recall(
        self,
        agent_id: str,
        query: Sequence[str],
        now_tick: int,
        k: int = 5,
        *,
        max_tick: int | None = None,
    ) -> list[RecalledMemory]:
        """The ``k`` memories that best fit ``query`` at ``now_tick``, by weighted score.

        ``max_tick``: ignore later memories (for reproducible recall, see :meth:`progress`).
        """
        raw: list[str] = await self.redis.zrange(self.keys.memories(agent_id), 0, -1)  # type: ignore[assignment]
        return self.rank(agent_id, raw, query, now_tick, k, max_tick=max_tick)

    async def recall_many(
        self,
        requests: Sequence[tuple[str, Sequence[str]]],
        now_tick: int,
        k: int = 5,
        *,
        max_tick: int | None = None,
    ) -> list[list[RecalledMemory]]:
        """:meth:`recall` for many (agent id, query) pairs in one round trip and one reply."""
        if not requests:
            return []
        raws = await self._ranges(keys=[self.keys.memories(agent_id) for agent_id, _ in requests])
        return [
            self.rank(agent_id, raw, query, now_tick, k, max_tick=max_tick)
            for (agent_id, query), raw in zip(requests, raws, strict=True)
        ]

    def rank(
        self,
        agent_id: str,
        raw: Sequence[str],
        query: Sequence[str],
        now_tick: int,
        k: int,
        *,
        max_tick: int | None = None,
    ) -> list[RecalledMemory]:
        """The ``k`` best of an agent's stored entries (``raw``: their JSON) for ``query``.

        Entries that are not memories (what :meth:`Memory.from_json` refuses) are skipped.
        """
        c = _columns(agent_id, raw)
        if max_tick is not None:
            keep = [n for n, t in enumerate(c.ticks) if t <= max_tick]
            c = _Columns(*([column[n] for n in keep] for column in c))
        best = rank_parts(
            c.ticks,
            c.importances,
            c.keywords,
            c.texts,
            c.ids,
            query,
            now_tick,
            decay=self.settings.recency_decay,
            weights=self.weights,
            k=k,
        )
        return [
            RecalledMemory(
                c.ids[n], c.ticks[n], c.kinds[n], c.texts[n], round(score, 6), c.importances[n]
            )
            for score, n, _, _, _ in best
        ]


class _Columns(NamedTuple):
    """The fields recall ranks on, one list each, in the order of the stored entries."""

    ids: list[str]
    kinds: list[str]
    texts: list[str]
    ticks: list[int]
    importances: list[float]
    keywords: list[Sequence[str]]


def _columns(agent_id: str, raw: Sequence[str]) -> _Columns:
    """The stored entries' fields, without building a Memory for each.

    One JSON parse for the whole set; entry by entry (through :meth:`Memory.from_json`,
    skipping what it refuses) only when one is unreadable.
    """
    try:
        items: list[Any] = orjson.loads("[" + ",".join(raw) + "]")
        if len(items) != len(raw):  # an entry that is not one JSON value
            raise ValueError("entries do not split")
        columns = _Columns(
            [i["id"] for i in items],
            [i["kind"] for i in items],
            [i["text"] for i in items],
            [int(i["tick"]) for i in items],
            [float(i["importance"]) for i in items],
            [i.get("keywords") or () for i in items],
        )
        # The rest of what Memory.from_json requires, so both ways read the same entries.
        if not KINDS.issuperset(columns.kinds) or not all("agent_id" in i for i in items):
            raise ValueError("not a memory")
        return columns
    except (ValueError, KeyError, TypeError):
        memories = _parse(agent_id, raw)
        return _Columns(
            [m.id for m in memories],
            [m.kind for m in memories],
            [m.text for m in memories],
            [m.tick for m in memories],
            [m.importance for m in memories],
            [m.keywords for m in memories],
        )


def _parse(agent_id: str, raw: Iterable[str]) -> list[Memory]:
    out = []
    for item in raw:
        try:
            out.append(Memory.from_json(item))
        except (ValueError, KeyError, TypeError) as exc:  # never let one bad entry stop recall
            log.warning("skipping unreadable memory of %s: %s", agent_id, exc)
    return out
