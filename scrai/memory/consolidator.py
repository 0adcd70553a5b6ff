"""The memory consolidator: committed events in, per-agent memories and summaries out.

It is one member of the ``memory`` consumer group on ``world_state_committed_events``.
For each batch it reads what it needs first (the observers' places and how many
facts each agent has not summarised yet: one pipelined round trip, plus one more
only when a trigger fires), works out everything in Python, and queues every write
on the consumer's MULTI/EXEC, next to the XACK. A batch's memories, pending facts
and places are therefore stored together with its ack or not at all, so a
restart never writes a memory twice nor loses one.

Triggers, per agent: ``consolidate_every_events`` facts since its last summary,
or the close of every ``consolidate_every_ticks``-th tick (a :class:`TickEvent`).
Run a single instance: the per-batch read of pending state assumes no other
consolidator writes the same agents at the same time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from scrai.bus import Consumer, Delivery
from scrai.bus.consumer import ConsumerStats
from scrai.events import TickEvent, WorldStateCommittedEvent
from scrai.keys import Keys
from scrai.memory.model import Memory
from scrai.memory.narrate import Cast, Fact, notes_for_event, summarize
from scrai.memory.store import MemoryStore
from scrai.scenario.model import Scenario
from scrai.settings import Settings

log = logging.getLogger(__name__)

GROUP = "memory"


@dataclass
class _Pending:
    """An agent's unsummarised facts: ``stored`` in Redis (loaded lazily) plus ``new`` ones."""

    stored_count: int
    stored: list[Fact] | None = None
    new: list[Fact] = field(default_factory=list)
    cleared: bool = False

    @property
    def count(self) -> int:
        return self.stored_count + len(self.new)


class MemoryConsolidator:
    """Consumes committed events into memories. ``run(burst=True)`` returns when drained."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        scenario: Scenario,
        *,
        name: str = "memory-1",
        settings: Settings | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.cast = Cast(scenario)
        self.settings = scenario.memory
        self.store = MemoryStore(redis, keys, scenario.memory)
        self.summaries_written = 0
        self.memories_written = 0  # queued on committed batches (a failed batch is redone)
        s = settings or Settings()
        self.consumer = Consumer(
            redis,
            keys.committed_events,
            GROUP,
            name,
            self.handle,
            keys=keys,
            batch_size=batch_size or s.consumer_batch_size,
            block_ms=s.consumer_block_ms,
            claim_idle_ms=s.consumer_claim_idle_ms,
            max_deliveries=s.consumer_max_deliveries,
            dedupe_window_s=s.consumer_dedupe_window_s,
            max_backoff_s=s.reconnect_max_backoff_s,
        )

    async def run(self, *, burst: bool = False) -> ConsumerStats:
        return await self.consumer.run(burst=burst)

    def stop(self) -> None:
        self.consumer.stop()

    # -- one batch --------------------------------------------------------------------

    async def handle(self, batch: list[Delivery], tx: Pipeline) -> None:
        """Turn a batch into memories, queued on ``tx`` (the consumer adds the ack)."""
        involved: set[str] = set()
        for d in batch:
            if isinstance(d.event, WorldStateCommittedEvent):
                involved.add(d.event.entity_id)
                involved.update(d.event.payload.observers)
        order = sorted(involved)
        places: dict[str, str | None] = {}
        pending: dict[str, _Pending] = {}
        if order:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self.keys.memory_places, order)
                for agent in order:
                    pipe.llen(self.keys.memory_pending(agent))
                reply = await pipe.execute()
            for agent, place in zip(order, reply[0], strict=True):
                places[agent] = place or self.cast.start_place(agent)
            for agent, n in zip(order, reply[1:], strict=True):
                pending[agent] = _Pending(int(n))
        moved: dict[str, str] = {}
        memories: dict[str, list[Memory]] = {}

        async def consolidate(agent: str, tick: int) -> None:
            p = pending[agent]
            if p.stored is None:
                raw = await self.redis.lrange(self.keys.memory_pending(agent), 0, -1)
                p.stored = [json.loads(r) for r in raw]
            summary = summarize(self.cast, agent, [*p.stored, *p.new], tick)
            if summary is not None:
                memories.setdefault(agent, []).append(summary)
                self.summaries_written += 1
            p.stored, p.stored_count, p.new, p.cleared = [], 0, [], True

        closed: int | None = None
        every_events = self.settings.consolidate_every_events
        every_ticks = self.settings.consolidate_every_ticks
        for d in batch:
            event = d.event
            if isinstance(event, WorldStateCommittedEvent):
                for note in notes_for_event(self.cast, event, places):
                    if note.memory is not None:
                        memories.setdefault(note.agent_id, []).append(note.memory)
                    if note.fact is not None:
                        p = pending[note.agent_id]
                        p.new.append(note.fact)
                        if p.count >= every_events:
                            await consolidate(note.agent_id, event.tick)
                after = event.payload.after.get(f"agent:{event.entity_id}", {}).get("place")
                if isinstance(after, str):
                    places[event.entity_id] = moved[event.entity_id] = after
            elif isinstance(event, TickEvent):
                closed = event.tick
                if (event.tick + 1) % every_ticks == 0:
                    for agent in await self._agents_with_pending(pending):
                        await consolidate(agent, event.tick)

        for agent, mems in memories.items():
            self.memories_written += self.store.queue_add(tx, agent, mems)
        for agent, p in pending.items():
            key = self.keys.memory_pending(agent)
            if p.cleared:
                tx.delete(key)
            if p.new:
                tx.rpush(key, *(json.dumps(f, separators=(",", ":")) for f in p.new))
            if p.new or p.cleared:
                if p.count:
                    tx.sadd(self.keys.memory_pending_agents, agent)
                else:
                    tx.srem(self.keys.memory_pending_agents, agent)
        if moved:
            tx.hset(self.keys.memory_places, mapping=moved)
        if closed is not None:  # the TickEvent is the last entry of its tick: all of it is in
            tx.set(self.keys.memory_progress, closed)

    async def _agents_with_pending(self, pending: dict[str, _Pending]) -> list[str]:
        """Every agent with unsummarised facts: those stored in Redis and those of this batch."""
        members = await self.redis.smembers(self.keys.memory_pending_agents)
        missing = sorted(set(members) - set(pending))
        if missing:
            async with self.redis.pipeline(transaction=False) as pipe:
                for agent in missing:
                    pipe.llen(self.keys.memory_pending(agent))
                counts = await pipe.execute()
            for agent, n in zip(missing, counts, strict=True):
                pending[agent] = _Pending(int(n))
        return sorted(a for a, p in pending.items() if p.count)
