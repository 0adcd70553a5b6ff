"""The world system: the only writer of world state, and the clock of the simulation.

One task does everything in turn, so nothing races: read a batch of actions
(staging each in ``keys.staged_actions(tick)`` in the same MULTI/EXEC as its ack),
apply clock controls, close the open tick when every live agent has answered or
its deadline passed, open the next one when it is due. Closing tick ``t`` is ONE
MULTI/EXEC: new agent and object state, a committed or rejected event per staged
action (agents in sorted id order), the TickEvent last, the staged hash deleted,
the clock advanced. The in-memory state mirrors Redis; whenever a write's fate is
uncertain it is read back from Redis, which is the truth.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import random
import time
import uuid

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from scrai.bus import Consumer, Delivery, trim
from scrai.bus.consumer import TRANSIENT
from scrai.events import (
    SCHEMA_VERSION,
    ActionEvent,
    EventType,
    TickEvent,
    TickPayload,
)
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import load_scenario
from scrai.settings import Settings
from scrai.world import state as store
from scrai.world.clock import Clock, ClockControl, may_open, next_open_at, open_next
from scrai.world.pacing import ConsumerPacing
from scrai.world.rules import (
    Accepted,
    Rejected,
    WorldMap,
    admit,
    apply_action,
    record_rejection,
    refill,
)

log = logging.getLogger(__name__)

GROUP = "world"
POLL_S = 0.05  # how often clock controls are read, and the longest blocking read
ALIVE_CACHE_S = 0.25
HEALTH_EVERY_S = 1.0
# Often enough that a bounded stream overshoots by seconds, not minutes; a pass that finds
# a stream within bounds is one XLEN, and the entries trimmed cost the same however batched.
TRIM_EVERY_S = 5.0
MIN_BATCH = 2_000

# XADD a tick's events of one type to one stream in one command (queued inside the tick's
# MULTI/EXEC): a thousand XADDs cost one reply instead of a thousand, and the fields every
# event shares (type, tick, timestamp, schema version) are sent once, not once per event.
# ARGV: type, tick, timestamp, schema_version, then 5 per event: event_id, entity_id,
# sequence, payload, trace ("" for none, else "+" .. trace_id). Fields in to_fields order.
_XADD_EVENTS_LUA = """
local stream, kind, tick, ts, version = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV, 5 do
  local trace = ARGV[i + 4]
  if trace == '' then
    redis.call('XADD', stream, '*', 'event_id', ARGV[i], 'type', kind,
      'entity_id', ARGV[i + 1], 'sequence', ARGV[i + 2], 'tick', tick, 'timestamp', ts,
      'schema_version', version, 'payload', ARGV[i + 3])
  else
    redis.call('XADD', stream, '*', 'event_id', ARGV[i], 'type', kind,
      'entity_id', ARGV[i + 1], 'sequence', ARGV[i + 2], 'tick', tick, 'timestamp', ts,
      'schema_version', version, 'payload', ARGV[i + 3], 'trace_id', string.sub(trace, 2))
  end
end
return #ARGV
"""
_COMMITTED = EventType.COMMITTED.value
_REJECTED = EventType.REJECTED.value
_VERSION = str(SCHEMA_VERSION)


class ScenarioMismatch(RuntimeError):
    """The stored world was seeded from another scenario; ``--reseed`` replaces it."""


class WorldSystem:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        settings: Settings,
        *,
        reseed: bool = False,
        max_ticks: int | None = None,
        name: str = "world",
        freeze_heap: bool = False,
        cast_wait_s: float = 0.0,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.reseed = reseed
        self.max_ticks_override = max_ticks
        self.freeze_heap = freeze_heap
        self.cast_wait_s = cast_wait_s
        self._cast_until = 0.0  # while a new run's first tick waits for its cast
        self.consumer = Consumer.from_settings(
            redis, settings, keys.action_events, GROUP, name, self._on_actions,
            keys=keys,
            # Big batches: a tick of a thousand actions is staged in one or two round trips.
            batch_size=max(settings.consumer_batch_size, MIN_BATCH),
            block_ms=int(POLL_S * 1000),
        )  # fmt: skip
        self.control = ClockControl(redis, keys)
        self.pacing = ConsumerPacing(
            redis, keys.committed_events, settings.world_paced_groups,
            max_lag_ticks=settings.world_max_consumer_lag_ticks,
            live_idle_ms=settings.consumer_claim_idle_ms,
        )  # fmt: skip
        self.staged: dict[int, dict[str, store.Staged]] = {}
        self.last_seq: dict[str, int] = {}  # highest sequence staged per agent
        self.committed = 0
        self.rejected = 0
        self._dirty = True
        self._step_ids: set[str] = set()
        self._alive: set[str] = set()
        self._alive_at = 0.0
        self._control_at = 0.0
        self._health_at = 0.0
        self._trim_at = time.time()

    # -- start -------------------------------------------------------------------------

    async def prepare(self, stop: asyncio.Event) -> bool:
        """Load the scenario (waiting for one to be stored), seed or resume. False if stopped.

        With ``freeze_heap`` (for a process of its own), the heap built so far is then
        moved out of the garbage collector's generations (``gc.freeze``).
        """
        scenario = await load_scenario(self.redis, self.keys)
        if scenario is None:
            log.info("waiting for a scenario at %s", self.keys.scenario)
        while scenario is None:
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.2)
                return False
            except TimeoutError:
                scenario = await load_scenario(self.redis, self.keys)
        self.scenario: Scenario = scenario
        self.map = WorldMap(scenario)
        self.tick_interval_s = scenario.simulation.tick_interval_s
        self.tick_deadline_s = scenario.simulation.tick_deadline_s
        self.max_ticks = self.max_ticks_override or scenario.simulation.max_ticks
        meta = await store.hgetall(self.redis, self.keys.world_meta)
        if self.reseed or not meta:
            meta = await store.seed_world(self.redis, self.keys, scenario)
            log.info("seeded world %r (run %s)", scenario.name, meta["run_id"])
        elif meta.get("scenario_hash") != store.scenario_hash(scenario):
            raise ScenarioMismatch(
                f"the world in Redis was seeded from scenario {meta.get('scenario')!r} "
                f"({meta.get('scenario_hash')}), not the stored {scenario.name!r}; "
                "run with --reseed to start it over"
            )
        else:
            log.info("resuming world %r (run %s)", scenario.name, meta.get("run_id"))
        self.run_id = meta["run_id"]
        await self.consumer.ensure_group()
        await self._resync()
        await self._reconcile_finish()
        if self.cast_wait_s > 0 and self.clock.tick == 0:
            self._cast_until = time.time() + self.cast_wait_s
        if self.freeze_heap:
            # What exists now (modules, the scenario, the map, the state) lives as long as
            # the process: out of the collector's way, a full collection no longer walks it
            # (about an eighth of the world's CPU per action at a thousand agents). A process-wide
            # setting, so only for the world's own process (``python -m scrai.world``).
            gc.collect()
            gc.freeze()
        return True

    async def _resync(self) -> None:
        """Read state, clock and staged actions back from Redis (the truth)."""
        self.state = await store.load_state(self.redis, self.keys)
        clock = await store.load_clock(self.redis, self.keys)
        self.clock = clock or Clock()
        self.staged, self.last_seq = {}, {}
        for tick in range(self.clock.last_closed + 1, self.clock.tick + 2):
            staged = await store.load_staged(self.redis, self.keys, tick)
            if staged:
                self.staged[tick] = staged
                for agent_id, item in staged.items():
                    sequence = item.event.sequence
                    self.last_seq[agent_id] = max(self.last_seq.get(agent_id, 0), sequence)
        self._dirty = False

    async def _reconcile_finish(self) -> None:
        limit, clock = self.max_ticks, self.clock
        if clock.state == "finished" and (limit is None or clock.last_closed < limit):
            clock.state = "running"
        elif limit is not None and clock.last_closed >= limit:
            clock.state = "finished"
        else:
            return
        await self.redis.hset(self.keys.clock, "state", clock.state)

    # -- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run the world until ``stop`` is set or the last tick closed."""
        if not await self.prepare(stop):
            return
        backoff = 0.0
        while not stop.is_set():
            try:
                if self._dirty:
                    await self._resync()
                if await self.step() == "finished":
                    log.info("tick %d was the last: finished", self.clock.last_closed)
                    await self._health(time.time(), force=True)
                    return
                backoff = 0.0
            except TRANSIENT as exc:
                self._dirty = True
                backoff = min(self.settings.reconnect_max_backoff_s, max(0.05, backoff * 2))
                log.warning("redis unavailable (%s); retry in %.2fs", exc, backoff)
                try:
                    await asyncio.wait_for(
                        stop.wait(), timeout=backoff * (0.5 + random.random() / 2)
                    )
                except TimeoutError:
                    pass
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._dirty = True
                await self.consumer.ensure_group()

    async def step(self) -> str:
        """One turn: controls, close or open a tick if due, else read one batch of actions."""
        now = time.time()
        if now - self._control_at >= POLL_S:
            self._control_at = now
            stored = await self.control.apply()
            if stored is not None:  # else nothing changed: only the world writes the clock
                self.clock.state, self.clock.speed, self.clock.steps = (
                    stored.state, stored.speed, stored.steps,
                )  # fmt: skip
        await self._health(now)
        if now - self._trim_at >= TRIM_EVERY_S:
            self._trim_at = now
            await self._trim()
        clock = self.clock
        if clock.state == "finished":
            return "finished"
        if clock.is_open and await self._ready_to_close(now):
            await self._close_tick(now)
            return "closed"
        if (
            may_open(clock, now, self.tick_interval_s)
            and not await self._awaiting_cast(now)
            and not await self._held(now)
        ):
            await self._open_tick(now)
            return "opened"
        await self._consume(self._wait_s(now))
        return "consumed"

    async def _awaiting_cast(self, now: float) -> bool:
        """Whether a new run's first tick still waits for its cast to come alive.

        Workers start alongside the world; a first tick opened before them would close on
        its deadline with nobody in it. The wait ends when every agent is alive, or after
        ``cast_wait_s`` with whoever is.
        """
        if not self._cast_until:
            return False
        if now - self._alive_at >= ALIVE_CACHE_S:
            await self._refresh_alive(now)
        cast = len(self.map.agent_ids)
        if len(self._alive) < cast and now < self._cast_until:
            return True
        log.info("%d of %d agents alive: opening the first tick", len(self._alive), cast)
        self._cast_until = 0.0
        return False

    async def _held(self, now: float) -> bool:
        """Whether a reader of the committed log is too far behind to open a tick now."""
        return await self.pacing.held(len(self.map.agent_ids) + 1, now)

    def _wait_s(self, now: float) -> float:
        wait = POLL_S
        if self.clock.is_open:
            wait = min(wait, self.clock.deadline_at - now)
        elif self.clock.state == "running" and not self.pacing.waiting_for and not self._cast_until:
            wait = min(wait, next_open_at(self.clock, self.tick_interval_s) - now)
        return max(0.001, wait)

    async def _consume(self, wait_s: float) -> None:
        self.consumer.block_ms = max(1, int(wait_s * 1000))
        failures = self.consumer.stats.failures
        self._step_ids.clear()
        try:
            await self.consumer.step()
        except BaseException:
            self._dirty = True
            raise
        if self.consumer.stats.failures != failures:
            self._dirty = True  # a batch was retried: the in-memory view may be ahead of Redis

    async def _health(self, now: float, *, force: bool = False) -> None:
        if not force and now - self._health_at < HEALTH_EVERY_S:
            return
        self._health_at = now
        status = {
            "tick": self.clock.tick,
            "state": self.clock.state,
            "at": now,
            "waiting_for": self.pacing.waiting_for,  # readers holding the clock (backpressure)
            "awaiting_cast": bool(self._cast_until),  # a new run's first tick, held for its agents
        }
        await self.redis.set(
            self.keys.health("world"), json.dumps(status), ex=self.settings.health_ttl_s
        )

    async def _trim(self) -> None:
        """Keep the streams the world writes within retention (never past a reader).

        The committed stream is left whole unless ``committed_retention_max_len`` is set:
        analytics rebuilds by replaying it.
        """
        limit = self.settings.stream_retention_max_len
        for stream in (self.keys.action_events, self.keys.rejected_events):
            await trim(self.redis, stream, limit)
        if self.settings.committed_retention_max_len is not None:
            await trim(
                self.redis, self.keys.committed_events, self.settings.committed_retention_max_len
            )

    async def _ready_to_close(self, now: float) -> bool:
        if now >= self.clock.deadline_at:
            return True
        staged = self.staged.get(self.clock.tick, {})
        if now - self._alive_at >= ALIVE_CACHE_S or len(staged) >= len(self._alive):
            await self._refresh_alive(now)
        return bool(self._alive) and self._alive.issubset(staged)

    async def _refresh_alive(self, now: float) -> None:
        ids = await self.redis.zrangebyscore(self.keys.agents_alive, now, "+inf")
        self._alive = {a for a in ids if a in self.map.agent_ids}
        self._alive_at = now

    # -- staging -----------------------------------------------------------------------

    async def _on_actions(self, batch: list[Delivery], tx: Pipeline) -> None:
        """Stage each action for its tick, or reject it now (late, early, twice, out of order)."""
        clock, agents, staged, last_seq = self.clock, self.state.agents, self.staged, self.last_seq
        step_ids = self._step_ids
        staging: dict[int, dict[str, bytes]] = {}
        touched: dict[str, bytes] = {}
        now = time.time()
        for delivery in batch:
            if delivery.stream_id in step_ids:
                self._dirty = True  # the same entry handled twice in one read: a retry
            step_ids.add(delivery.stream_id)
            event = delivery.event
            if not isinstance(event, ActionEvent):
                log.warning("ignoring a %s event on the action stream", event.type)
                continue
            agent_id, tick = event.entity_id, event.tick
            agent = agents.get(agent_id)
            for_tick = staged.get(tick)
            last = max(agent.action_seq, last_seq.get(agent_id, 0)) if agent else 0
            verdict = admit(
                agent,
                agent_id=agent_id,
                sequence=event.sequence,
                last_sequence=last,
                action_tick=tick,
                last_closed=clock.last_closed,
                clock_tick=clock.tick,
                already_staged=for_tick is not None and agent_id in for_tick,
            )
            item = store.Staged.of(event)
            if verdict is None:
                if for_tick is None:
                    for_tick = staged[tick] = {}
                for_tick[agent_id] = item
                last_seq[agent_id] = event.sequence
                staging.setdefault(tick, {})[agent_id] = store.encode_staged(item)
                continue
            if agent is not None:
                record_rejection(agent, event.sequence, tick, verdict)
                touched[agent_id] = agent.to_json().encode()
            tx.xadd(self.keys.rejected_events, rejected_fields(item, verdict, now))  # type: ignore[arg-type]
            self.rejected += 1
        for tick, mapping in staging.items():
            tx.hset(self.keys.staged_actions(tick), mapping=mapping)  # type: ignore[arg-type]
        if touched:
            tx.hset(self.keys.agents_state, mapping=touched)  # type: ignore[arg-type]

    # -- ticks -------------------------------------------------------------------------

    async def _open_tick(self, now: float) -> None:
        async with self.redis.pipeline(transaction=True) as tx:
            self._queue_open(tx, now)
            await self._execute(tx)

    def _queue_open(self, tx: Pipeline, now: float) -> None:
        open_next(self.clock, now, self.tick_deadline_s)
        tx.hset(self.keys.clock, mapping=self.clock.to_hash())  # type: ignore[arg-type]
        tx.publish(self.keys.tick_channel, str(self.clock.tick))

    async def _close_tick(self, now: float) -> None:
        clock, tick = self.clock, self.clock.tick
        world, state = self.map, self.state
        staged = self.staged.pop(tick, {})
        agents: dict[str, bytes] = {}
        objects = set(refill(world, state))  # stock comes back before the tick's uses
        committed = rejected = 0
        shared = (str(tick), repr(now), _VERSION)  # for _XADD_EVENTS_LUA
        commits: list[str | bytes] = [_COMMITTED, *shared]
        rejections: list[str | bytes] = [_REJECTED, *shared]
        for agent_id in sorted(staged):
            item = staged[agent_id]
            event = item.event
            outcome = apply_action(
                world, state, agent_id, event.payload.action, event.sequence, tick
            )
            trace = "" if event.trace_id is None else "+" + event.trace_id
            if isinstance(outcome, Accepted):
                # The payload is built by hand rather than through the pydantic model (the
                # hot path); parse_event reads it back the same (tests check the round trip).
                after = outcome.after
                payload = orjson.dumps(
                    {
                        "action_event_id": item.event_id,
                        "action": item.action,
                        "before": outcome.before,
                        "after": after,
                        "observers": outcome.observers,
                    }
                )
                sequence = str(state.agents[agent_id].commit_seq)
                event_id = uuid5_url("commit:" + item.event_id)
                commits += (event_id, agent_id, sequence, payload, trace)
                if len(after) > 1:
                    objects.update(k[7:] for k in after if k.startswith("object:"))
                # The actor's state as it stands now: its "after" (it acts once per tick).
                agents[agent_id] = orjson.dumps(after["agent:" + agent_id])
                committed += 1
            else:
                agent = state.agents.get(agent_id)
                if agent is not None:
                    record_rejection(agent, event.sequence, tick, outcome)
                    agents[agent_id] = agent.to_json().encode()
                event_id = uuid5_url("reject:" + item.event_id)
                payload = rejected_payload(item, outcome)
                rejections += (event_id, agent_id, str(event.sequence), payload, trace)
                rejected += 1
        clock.last_closed = tick
        if self.max_ticks is not None and tick >= self.max_ticks:
            clock.state = "finished"
        tick_event = TickEvent(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tick:{self.run_id}:{tick}"),
            entity_id="world",
            sequence=tick,
            tick=tick,
            timestamp=now,
            payload=TickPayload(
                state=clock.state,
                committed=committed,
                rejected=rejected,
                agents_alive=len(self._alive),
                duration_ms=round((now - clock.opened_at) * 1000, 3),
            ),
        )
        # Whether the next tick may open counts this tick's entries as written already.
        self.pacing.wrote(committed + 1)
        open_now = may_open(clock, now, self.tick_interval_s) and not await self._held(now)
        async with self.redis.pipeline(transaction=True) as tx:
            if agents:
                tx.hset(self.keys.agents_state, mapping=agents)  # type: ignore[arg-type]
            if objects:
                mapping = {o: state.objects[o].to_json() for o in sorted(objects)}
                tx.hset(self.keys.objects_state, mapping=mapping)  # type: ignore[arg-type]
            # EVAL, not EVALSHA: a script cache emptied by a server restart cannot fail
            # one command of the transaction while the others apply.
            if committed:
                tx.eval(_XADD_EVENTS_LUA, 1, self.keys.committed_events, *commits)
            tx.xadd(self.keys.committed_events, tick_event.to_fields())  # type: ignore[arg-type]
            if rejected:
                tx.eval(_XADD_EVENTS_LUA, 1, self.keys.rejected_events, *rejections)
            # UNLINK: the hash is freed off the server's main thread, gone all the same.
            tx.unlink(self.keys.staged_actions(tick))
            if open_now:
                self._queue_open(tx, now)  # no round trip of its own when the next tick is due
            else:
                tx.hset(self.keys.clock, mapping=clock.to_hash())  # type: ignore[arg-type]
            await self._execute(tx)
        self.committed += committed
        self.rejected += rejected

    async def _execute(self, tx: Pipeline) -> None:
        try:
            await tx.execute()
        except BaseException:
            self._dirty = True  # applied or not, Redis knows: read it back before going on
            raise


# -- event fields (built by hand: the hot path; tests read them back through parse_event) --


def rejected_payload(item: store.Staged, rejected: Rejected) -> bytes:
    """The JSON of a :class:`RejectedPayload` for a staged action."""
    return orjson.dumps(
        {
            "action_event_id": item.event_id,
            "action": item.action,
            "reason": rejected.reason.value,
            "message": rejected.message,
        }
    )


def rejected_fields(item: store.Staged, rejected: Rejected, now: float) -> dict[str, str | bytes]:
    """The stream fields of the :class:`WorldStateRejectedEvent` for a staged action."""
    event = item.event
    fields: dict[str, str | bytes] = {
        "event_id": uuid5_url("reject:" + item.event_id),
        "type": _REJECTED,
        "entity_id": event.entity_id,
        "sequence": str(event.sequence),
        "tick": str(event.tick),
        "timestamp": repr(now),
        "schema_version": _VERSION,
        "payload": rejected_payload(item, rejected),
    }
    if event.trace_id is not None:
        fields["trace_id"] = event.trace_id
    return fields


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def uuid5_url(name: str) -> str:
    """``str(uuid.uuid5(uuid.NAMESPACE_URL, name))``, without building UUID objects (hot path)."""
    digest = bytearray(hashlib.sha1(_URL_NAMESPACE + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
