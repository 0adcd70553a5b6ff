"""The memory consolidator: committed events in, per-agent memories and summaries out.

It is one member of the ``memory`` consumer group on ``world_state_committed_events``.
It works a batch out in Python and queues every write on the consumer's MULTI/EXEC,
next to the XACK. A batch's memories, pending facts and places are therefore stored
together with its ack or not at all, so a restart never writes a memory twice nor
loses one.

What a batch needs of the stored state (where each observer is, how many facts each
agent has not summarised yet, the last tick done) it keeps in memory between batches:
it is their only writer. Each batch stores a fresh batch id with its writes, and the
next one checks it first (one GET): when it is not the one last queued (a transaction
that did not commit, another consolidator, a restart) the view is read again from
Redis. Stored facts are read only when a summary is due.

Triggers, per agent: ``consolidate_every_events`` facts since its last summary,
or the close of every ``consolidate_every_ticks``-th tick (a :class:`TickEvent`).
When ticks go back (the world was seeded again, ``scrai up --reseed``), a new run
has begun: every agent's memory starts over, in the same MULTI/EXEC, and the
scenario is read again. Replaying a stream that holds several runs therefore ends
with the memories of the last one.

Run a single instance: the in-memory view assumes no other consolidator writes
the same agents at the same time.
"""

from __future__ import annotations

import logging
import sys
import uuid
from dataclasses import dataclass, field

import orjson
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
class _View:
    """What the consolidator knows of its own stored state, kept between batches.

    Its strings are interned, so they are the scenario's own (see :class:`Cast`). A
    string read during a batch and kept after it would hold on to the allocator's arena
    it sits in; a thousand such strings, refreshed every tick, pin every arena a big
    batch ever used, and the RSS creeps up to the biggest batch's peak.
    """

    progress: int  # last tick fully consolidated; -1: none
    places: dict[str, str | None]  # every agent's place as of the last event applied
    stored: dict[str, int]  # agent -> facts pending in Redis (agents with none left out)


@dataclass
class _Batch:
    """Everything one batch works out and then queues."""

    progress: int
    places: dict[str, str | None]  # the view's, updated in place
    stored: dict[str, int]  # the view's, read only: updated once the batch is queued
    pending: dict[str, _Pending] = field(default_factory=dict)
    memories: dict[str, list[Memory]] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)
    wipe: set[str] = field(default_factory=set)  # agents whose memory a new run erases
    # Summaries due: (agent, whether its stored facts belong in, this batch's facts, tick).
    # Built after the batch, so that every agent's stored facts come in one round trip.
    due: list[tuple[str, bool, list[Fact], int]] = field(default_factory=list)

    def pending_of(self, agent: str) -> _Pending:
        p = self.pending.get(agent)
        if p is None:
            p = self.pending[agent] = _Pending(self.stored.get(agent, 0))
        return p


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
        self._view: _View | None = None
        self._batch_id: str | None = None  # the id queued with the view's last batch
        s = settings or Settings()
        self.consumer = Consumer.from_settings(
            redis, s, keys.committed_events, GROUP, name, self.handle,
            keys=keys, batch_size=batch_size or s.memory_batch_size,
            # Its batches' work dwarfs their round trips; reading ahead made its RSS creep.
            read_ahead=False,
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
        view = await self._sync()
        # Until this batch is queued the view is in between: a failure on the way makes
        # the next batch read it again.
        self._batch_id = None
        state = _Batch(view.progress, view.places, view.stored)
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
                        p = state.pending_of(note.agent_id)
                        p.new.append(note.fact)
                        if p.count >= every_events:
                            self._consolidate(state, note.agent_id, event.tick)
                after = event.payload.after.get(f"agent:{event.entity_id}", {}).get("place")
                if isinstance(after, str):
                    after = sys.intern(after)  # kept by the view: see _View
                    state.places[event.entity_id] = state.moved[event.entity_id] = after
            elif isinstance(event, TickEvent):
                state.progress = event.tick
                if (event.tick + 1) % self.settings.consolidate_every_ticks == 0:
                    for agent in self._agents_with_pending(state):
                        self._consolidate(state, agent, event.tick)
        await self._summarize(state)
        batch_id = uuid.uuid4().hex
        self._queue(state, tx, batch_id)
        view.progress = state.progress  # its places and stored counts are the batch's own
        for agent, p in state.pending.items():
            if p.count:
                state.stored[sys.intern(agent)] = p.count
            else:
                state.stored.pop(agent, None)
        self._batch_id = batch_id

    async def _sync(self) -> _View:
        """The view of the stored state, read again unless it is of the last batch stored."""
        stored_id = await self.redis.get(self.keys.memory_batch)
        if self._view is not None and self._batch_id is not None and stored_id == self._batch_id:
            return self._view
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.memory_progress)
            pipe.hgetall(self.keys.memory_places)
            pipe.smembers(self.keys.memory_pending_agents)
            progress, moved, members = await pipe.execute()
        order = sorted(members)
        counts: list[int] = []
        if order:
            async with self.redis.pipeline(transaction=False) as pipe:
                for agent in order:
                    pipe.llen(self.keys.memory_pending(agent))
                counts = await pipe.execute()
        places = {agent: self.cast.start_place(agent) for agent in self.cast.agents}
        places.update((sys.intern(a), sys.intern(p)) for a, p in moved.items())
        stored = {sys.intern(agent): int(n) for agent, n in zip(order, counts, strict=True) if n}
        self._view = _View(int(progress) if progress is not None else -1, places, stored)
        self._batch_id = stored_id
        return self._view

    def _consolidate(self, state: _Batch, agent: str, tick: int) -> None:
        """Mark ``agent``'s facts so far as due for a summary at ``tick`` (:meth:`_summarize`)."""
        p = state.pending_of(agent)
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

    def _agents_with_pending(self, state: _Batch) -> list[str]:
        """Every agent with unsummarised facts: those stored in Redis and those of this batch."""
        for agent in state.stored:
            state.pending_of(agent)
        return sorted(a for a, p in state.pending.items() if p.count)

    async def _start_over(self, state: _Batch, tick: int) -> None:
        """A new run: forget every agent's memory (queued first on the batch's MULTI)."""
        scenario = await load_scenario(self.redis, self.keys)
        old = set(self.cast.agents)
        if scenario is not None:
            self._use(scenario)
        state.wipe.update(old, self.cast.agents, state.stored, state.pending)
        log.info("tick %d after tick %d: a new run; memories start over", tick, state.progress)
        state.progress = -1
        state.memories.clear()
        state.due.clear()
        state.moved.clear()
        state.places.clear()
        state.places.update((a, self.cast.start_place(a)) for a in self.cast.agents)
        state.stored.clear()
        state.pending.clear()

    def _queue(self, state: _Batch, tx: Pipeline, batch_id: str) -> None:
        tx.set(self.keys.memory_batch, batch_id)
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
            had = bool(state.stored.get(agent))  # in the set already (or wiped: not)
            if p.count and (not had or agent in state.wipe):
                tx.sadd(self.keys.memory_pending_agents, agent)
            elif had and not p.count:
                tx.srem(self.keys.memory_pending_agents, agent)
        if state.moved:
            tx.hset(self.keys.memory_places, mapping=state.moved)  # type: ignore[arg-type]
        if state.progress >= 0:  # the TickEvent is the last entry of its tick: all of it is in
            tx.set(self.keys.memory_progress, state.progress)
