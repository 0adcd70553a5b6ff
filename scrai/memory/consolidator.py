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
When ticks go back (the world was seeded again, ``scrai up --reseed``), a new run
has begun: every agent's memory starts over, in the same MULTI/EXEC, and the
scenario is read again. Replaying a stream that holds several runs therefore ends
with the memories of the last one.

Run a single instance: the per-batch read of pending state assumes no other
consolidator writes the same agents at the same time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from scrai.bus import Consumer, Delivery
from scrai.bus.consumer import ConsumerStats
from scrai.events import TickEvent, WorldStateCommittedEvent
from scrai.keys import Keys
from scrai.memory.model import Memory
from scrai.memory.narrate import Cast, Fact, audience, notes_for_event, summarize
from scrai.memory.store import MemoryStore
from scrai.scenario.model import Scenario
from scrai.scenario.store import load_scenario
from scrai.settings import Settings

log = logging.getLogger(__name__)

GROUP = "memory"


@dataclass
class _Pending:
    """An agent's unsummarised facts: ``stored_count`` in Redis plus ``new`` ones."""

    stored_count: int
    new: list[Fact] = field(default_factory=list)
    cleared: bool = False

    @property
    def count(self) -> int:
        return self.stored_count + len(self.new)


@dataclass
class _Batch:
    """Everything one batch reads, works out and then queues."""

    progress: int  # last tick fully consolidated; -1: none
    places: dict[str, str | None] = field(default_factory=dict)
    pending: dict[str, _Pending] = field(default_factory=dict)
    memories: dict[str, list[Memory]] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)
    wipe: set[str] = field(default_factory=set)  # agents whose memory a new run erases
    # Summaries due: (agent, whether its stored facts belong in, this batch's facts, tick).
    # Built after the batch, so that every agent's stored facts come in one round trip.
    due: list[tuple[str, bool, list[Fact], int]] = field(default_factory=list)


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
        self._use(scenario)
        self.summaries_written = 0
        self.memories_written = 0  # queued on committed batches (a failed batch is redone)
        s = settings or Settings()
        self.consumer = Consumer.from_settings(
            redis, s, keys.committed_events, GROUP, name, self.handle,
            keys=keys, batch_size=batch_size or s.memory_batch_size,
        )  # fmt: skip

    def _use(self, scenario: Scenario) -> None:
        self.cast = Cast(scenario)
        self.settings = scenario.memory
        self.store = MemoryStore(self.redis, self.keys, scenario.memory)

    async def run(self, *, burst: bool = False) -> ConsumerStats:
        return await self.consumer.run(burst=burst)

    def stop(self) -> None:
        self.consumer.stop()

    # -- one batch --------------------------------------------------------------------

    async def handle(self, batch: list[Delivery], tx: Pipeline) -> None:
        """Turn a batch into memories, queued on ``tx`` (the consumer adds the ack)."""
        state = await self._load(batch)
        every_events = self.settings.consolidate_every_events
        for d in batch:
            event = d.event
            if event.tick <= state.progress:
                # Ticks only go back when the world was seeded again: a new run, whose
                # agents must not remember the last one.
                await self._start_over(state, event.tick)
                every_events = self.settings.consolidate_every_events
            if isinstance(event, WorldStateCommittedEvent):
                for note in notes_for_event(self.cast, event, state.places):
                    if note.memory is not None:
                        state.memories.setdefault(note.agent_id, []).append(note.memory)
                    if note.fact is not None:
                        p = state.pending.get(note.agent_id)
                        if p is None:
                            p = state.pending[note.agent_id] = _Pending(0)
                        p.new.append(note.fact)
                        if p.count >= every_events:
                            self._consolidate(state, note.agent_id, event.tick)
                after = event.payload.after.get(f"agent:{event.entity_id}", {}).get("place")
                if isinstance(after, str):
                    state.places[event.entity_id] = state.moved[event.entity_id] = after
            elif isinstance(event, TickEvent):
                state.progress = event.tick
                if (event.tick + 1) % self.settings.consolidate_every_ticks == 0:
                    for agent in await self._agents_with_pending(state):
                        self._consolidate(state, agent, event.tick)
        await self._summarize(state)
        self._queue(state, tx)

    async def _load(self, batch: list[Delivery]) -> _Batch:
        """What the batch needs from Redis, in one round trip."""
        involved: set[str] = set()
        for d in batch:
            if isinstance(d.event, WorldStateCommittedEvent):
                involved.add(d.event.entity_id)
                involved.update(audience(d.event))
        order = sorted(involved)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.memory_progress)
            if order:
                pipe.hmget(self.keys.memory_places, order)
            for agent in order:
                pipe.llen(self.keys.memory_pending(agent))
            reply = await pipe.execute()
        state = _Batch(progress=int(reply[0]) if reply[0] is not None else -1)
        if order:
            for agent, place in zip(order, reply[1], strict=True):
                state.places[agent] = place or self.cast.start_place(agent)
            for agent, n in zip(order, reply[2:], strict=True):
                state.pending[agent] = _Pending(int(n))
        return state

    def _consolidate(self, state: _Batch, agent: str, tick: int) -> None:
        """Mark ``agent``'s facts so far as due for a summary at ``tick`` (:meth:`_summarize`)."""
        p = state.pending[agent]
        state.due.append((agent, p.stored_count > 0, p.new, tick))
        p.stored_count, p.new, p.cleared = 0, [], True

    async def _summarize(self, state: _Batch) -> None:
        """The summaries due, reading every stored fact they need in one pipeline."""
        if not state.due:
            return
        stored: dict[str, list[Fact]] = {}
        wanted = sorted({agent for agent, old, _, _ in state.due if old})
        if wanted:
            async with self.redis.pipeline(transaction=False) as pipe:
                for agent in wanted:
                    pipe.lrange(self.keys.memory_pending(agent), 0, -1)
                replies = await pipe.execute()
            for agent, raw in zip(wanted, replies, strict=True):
                stored[agent] = [orjson.loads(r) for r in raw]
        for agent, old, new, tick in state.due:
            facts = [*stored.get(agent, []), *new] if old else new
            summary = summarize(self.cast, agent, facts, tick)
            if summary is not None:
                state.memories.setdefault(agent, []).append(summary)
                self.summaries_written += 1
        state.due.clear()

    async def _agents_with_pending(self, state: _Batch) -> list[str]:
        """Every agent with unsummarised facts: those stored in Redis and those of this batch."""
        pending = state.pending
        if not state.wipe:  # after a start-over, what Redis holds is about to be deleted
            members: set[str] = await self.redis.smembers(self.keys.memory_pending_agents)  # type: ignore[assignment]
            missing = sorted(set(members) - set(pending))
            if missing:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for agent in missing:
                        pipe.llen(self.keys.memory_pending(agent))
                    counts = await pipe.execute()
                for agent, n in zip(missing, counts, strict=True):
                    pending[agent] = _Pending(int(n))
        return sorted(a for a, p in pending.items() if p.count)

    async def _start_over(self, state: _Batch, tick: int) -> None:
        """A new run: forget every agent's memory (queued first on the batch's MULTI)."""
        scenario = await load_scenario(self.redis, self.keys)
        old = set(self.cast.agents)
        if scenario is not None:
            self._use(scenario)
        members: set[str] = await self.redis.smembers(self.keys.memory_pending_agents)  # type: ignore[assignment]
        state.wipe.update(old, self.cast.agents, members, state.pending)
        log.info("tick %d after tick %d: a new run; memories start over", tick, state.progress)
        state.progress = -1
        state.memories.clear()
        state.due.clear()
        state.moved.clear()
        state.places = {a: self.cast.start_place(a) for a in state.places}
        state.pending = {a: _Pending(0) for a in state.pending}

    def _queue(self, state: _Batch, tx: Pipeline) -> None:
        if state.wipe:
            for agent in sorted(state.wipe):
                tx.delete(self.keys.memories(agent), self.keys.memory_pending(agent))
            tx.delete(
                self.keys.memory_pending_agents, self.keys.memory_places, self.keys.memory_progress
            )
        for agent, mems in state.memories.items():
            self.memories_written += self.store.queue_add(tx, agent, mems)
        for agent, p in state.pending.items():
            key = self.keys.memory_pending(agent)
            if p.cleared:
                tx.delete(key)
            if p.new:
                tx.rpush(key, *(orjson.dumps(f) for f in p.new))
            if p.new or p.cleared:
                if p.count:
                    tx.sadd(self.keys.memory_pending_agents, agent)
                else:
                    tx.srem(self.keys.memory_pending_agents, agent)
        if state.moved:
            tx.hset(self.keys.memory_places, mapping=state.moved)  # type: ignore[arg-type]
        if state.progress >= 0:  # the TickEvent is the last entry of its tick: all of it is in
            tx.set(self.keys.memory_progress, state.progress)
