"""The agent worker: hosts one or many cognitive agents in one asyncio process.

Per process, not per agent: one tail of ``world_state_committed_events`` (plain
XREAD, dispatched to the hosted agents that took part in or witnessed each
event), one read of the world per tick (a pipeline), one recall round trip for
the agents that need it, and one MULTI/EXEC that publishes every hosted agent's
action together with its saved mind and reflections, so a worker killed at any
point resumes with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import orjson
import redis.asyncio as aioredis

from scrai.agents.agent import CognitiveAgent, Outcome
from scrai.agents.brains import make_brain
from scrai.agents.decision import Brain, Decision
from scrai.agents.mind import Mind, dumps
from scrai.agents.recall import BatchRecall
from scrai.agents.scripts import PUBLISH, publish_args
from scrai.agents.tail import dispatch, watchers_of
from scrai.agents.view import Happening, WorldView
from scrai.bus.consumer import TRANSIENT
from scrai.events import Idle
from scrai.keys import Keys
from scrai.scenario.model import Agent, Scenario
from scrai.settings import Settings

log = logging.getLogger(__name__)

ALIVE_TTL_S = 5.0  # an agent whose worker stops refreshing drops out of the world's wait
ALIVE_EVERY_S = 1.0
POLL_S = 0.25  # clock poll when no pub/sub wake-up arrives
XREAD_COUNT = 10_000
LLM_CONCURRENCY = 16
MAX_BACKOFF_S = 5.0

BrainFactory = Callable[[Scenario, Agent], Brain]


class AgentWorker:
    """Runs the tick loop of ``agent_ids`` of ``scenario``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        scenario: Scenario,
        agent_ids: Sequence[str],
        *,
        name: str,
        health_ttl_s: int = 15,
        settings: Settings | None = None,
        brain_factory: BrainFactory | None = None,
    ) -> None:
        specs = {a.id: a for a in scenario.agents}
        missing = [a for a in agent_ids if a not in specs]
        if missing:
            raise ValueError(f"not in scenario {scenario.name!r}: {', '.join(missing)}")
        self.redis, self.keys, self.scenario, self.name = redis, keys, scenario, name
        self.ids = sorted(set(agent_ids))
        self.specs = [specs[a] for a in self.ids]
        self.health_ttl_s = health_ttl_s
        # The same cap as every other service's reconnect backoff (SCRAI_RECONNECT_MAX_BACKOFF_S).
        self.max_backoff_s = settings.reconnect_max_backoff_s if settings else MAX_BACKOFF_S
        # LLM brains share this worker's client and settings (the rule brain needs neither).
        self.brain_factory = brain_factory or (
            lambda sc, spec: make_brain(sc, spec, settings=settings, redis=redis, keys=keys)
        )
        self.agents: dict[str, CognitiveAgent] = {}
        self.watchers: dict[str, list[str]] = {}  # agent -> hosted agents with a tie to it
        self.memory = BatchRecall(redis, keys, scenario.memory)
        self._publish = redis.register_script(PUBLISH)
        self.pos = "0-0"
        self.seen_tick = 0
        self.run_id = ""
        self.ticks_done = 0
        self.done_tick = 0  # the last tick every hosted agent has acted for

    # -- start -------------------------------------------------------------------------

    async def restore(self, *, fresh: bool = False) -> None:
        """Build the agents, each from its saved mind of this run when there is one.

        ``fresh``: ignore saved minds (the world was seeded anew under us).
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in self.ids:
                pipe.hgetall(self.keys.agent_mind(agent_id))
            pipe.xrevrange(self.keys.committed_events, count=1)
            pipe.hgetall(self.keys.clock)
            pipe.hget(self.keys.world_meta, "run_id")
            *saved, last, clock, run_id = await pipe.execute()
        self.run_id = run_id or ""
        # A mind from another run (the world was reseeded) is not this agent's past.
        minds = [
            None if fresh else _this_run(Mind.from_hash(fields), self.run_id) for fields in saved
        ]
        self.agents = {}
        restored = [m for m in minds if m is not None]
        last_closed = int(clock.get("last_closed") or 0) if clock else 0
        if restored:
            # Resume the tail where the least advanced agent stopped; others skip what they saw.
            oldest = min(restored, key=lambda m: (m.seen_tick, _sid(m.stream_pos)))
            self.pos, self.seen_tick = oldest.stream_pos, oldest.seen_tick
        elif last:
            # A fresh cast starts from now, not from history (an earlier run's, or this one's).
            self.pos, self.seen_tick = last[0][0], last_closed
        else:
            self.pos, self.seen_tick = "0-0", 0
        for spec, mind in zip(self.specs, minds, strict=True):
            agent = CognitiveAgent(
                self.scenario, spec, self.brain_factory(self.scenario, spec), mind
            )
            if mind is None:
                agent.mind.seen_tick, agent.mind.stream_pos = self.seen_tick, self.pos
            self.agents[spec.id] = agent
        self.done_tick = min(a.mind.last_tick for a in self.agents.values())
        self.watchers = watchers_of(self.agents.values())
        log.info(
            "%s: hosting %d agents (%d restored), tail from %s",
            self.name,
            len(self.ids),
            len(restored),
            self.pos,
        )

    async def refresh_alive(self) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.agents_alive, {a: now + ALIVE_TTL_S for a in self.ids})
            pipe.set(
                self.keys.health(f"worker-{self.name}"),
                dumps({"at": now, "agents": len(self.ids), "ticks": self.ticks_done}),
                ex=self.health_ttl_s,
            )
            await pipe.execute()

    # -- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, max_ticks: int | None = None) -> None:
        """Act for every tick the world opens until ``stop`` (checked between ticks).

        When Redis goes away mid-tick the worker waits (capped backoff) and then
        reloads its agents from what Redis holds, exactly as a restarted process would:
        whatever was published is kept, whatever was not is decided again.
        """
        if not self.agents:
            await self.restore()
        alive = asyncio.create_task(self._keep_alive(stop))
        backoff, last_outage = 0.0, 0.0
        try:
            while not stop.is_set():
                try:
                    if await self._follow(stop, max_ticks):
                        return
                    backoff = 0.0
                except TRANSIENT as exc:
                    # _follow only returns at the end, so a calm spell since the last
                    # outage (not a return) is what starts the backoff over.
                    now = time.monotonic()
                    if now - last_outage > 4 * self.max_backoff_s:
                        backoff = 0.0
                    last_outage = now
                    backoff = min(self.max_backoff_s, max(0.1, backoff * 2))
                    log.warning(
                        "%s: redis unavailable (%s); retry in %.1fs", self.name, exc, backoff
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    with contextlib.suppress(*TRANSIENT):
                        await self.restore()
        finally:
            alive.cancel()
            if stop.is_set():  # leaving: the world need not wait for us any more
                with contextlib.suppress(*TRANSIENT):
                    await self.redis.zrem(self.keys.agents_alive, *self.ids)

    async def _follow(self, stop: asyncio.Event, max_ticks: int | None) -> bool:
        """The tick loop proper; returns True once ``max_ticks`` ticks were acted for."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.keys.tick_channel)
            while not stop.is_set():
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.hgetall(self.keys.clock)
                    pipe.hget(self.keys.world_meta, "run_id")
                    clock, run_id = await pipe.execute()
                if run_id and self.run_id and run_id != self.run_id:
                    log.info(
                        "%s: the world was seeded anew (run %s); starting over", self.name, run_id
                    )
                    await self.restore(fresh=True)
                    continue
                tick = int(clock.get("tick") or 0) if clock else 0
                last_closed = int(clock.get("last_closed") or 0) if clock else 0
                # Act only while the tick is open: an answer to a closed one would be late.
                if (
                    tick > self.done_tick
                    and tick > last_closed
                    and clock.get("state") != "finished"
                ):
                    await self.step(tick, last_closed)
                    if max_ticks is not None and self.ticks_done >= max_ticks:
                        return True
                    continue
                await pubsub.get_message(timeout=POLL_S)  # a wake-up, or a poll after a while
            return False
        finally:
            with contextlib.suppress(*TRANSIENT):
                await pubsub.aclose()

    async def _keep_alive(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh_alive()
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                log.warning("%s: heartbeat failed: %s", self.name, exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=ALIVE_EVERY_S)
            except TimeoutError:
                pass

    # -- one tick ----------------------------------------------------------------------

    async def catch_up(self, last_closed: int) -> None:
        """Take in every committed event up to the end of tick ``last_closed``."""
        while self.seen_tick < last_closed:
            reply = await self.redis.xread(
                {self.keys.committed_events: self.pos}, count=XREAD_COUNT
            )
            entries = reply[0][1] if reply else []
            if not entries:
                log.warning(
                    "%s: tick %d closed but its events are not readable", self.name, last_closed
                )
                return
            for stream_id, fields in entries:
                self.pos = stream_id
                if fields.get("type") == "tick":
                    try:
                        self.seen_tick = int(fields.get("tick", 0))
                    except ValueError:
                        continue  # not a tick the world wrote
                    for agent in self.agents.values():
                        agent.caught_up(self.seen_tick, stream_id)
                    continue
                h = Happening.from_fields(fields)
                if h is None:
                    continue
                dispatch(h, self.agents, self.watchers)

    async def read_view(self, tick: int) -> WorldView:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.agents_state)
            pipe.hgetall(self.keys.objects_state)
            pipe.hget(self.keys.world_meta, "run_id")
            agents_raw, objects_raw, run_id = await pipe.execute()
        self.run_id = run_id or self.run_id
        agents = {k: orjson.loads(v) for k, v in agents_raw.items()}
        objects = {k: orjson.loads(v) for k, v in objects_raw.items()}
        return WorldView(tick, self.run_id, agents, objects)

    async def step(self, tick: int, last_closed: int) -> int:
        """Decide and publish every hosted agent's action for ``tick``; returns how many."""
        await self.catch_up(min(last_closed, tick - 1))
        view = await self.read_view(tick)
        acting = [a for a in self.agents.values() if a.wants_to_act(view)]
        cues = {a.id: a.begin(view) for a in acting}
        asking = [(a.id, cues[a.id]) for a in acting if a.needs_recall(tick, cues[a.id])]
        for (agent_id, cue), memories in zip(
            asking, await self.memory.recall_many(asking, tick), strict=True
        ):
            self.agents[agent_id].set_recalled(tick, cue, memories)
        decisions = await self._decide(acting, tick)
        outcomes = [a.conclude(view, d) for a, d in zip(acting, decisions, strict=True)]
        await self.publish(acting, outcomes)
        self.done_tick = tick  # agents absent from the world this tick have nothing to do
        self.ticks_done += 1
        return len(outcomes)

    async def _decide(self, acting: list[CognitiveAgent], tick: int) -> list[Decision]:
        decisions: list[Decision | None] = [None] * len(acting)
        slow: list[int] = []
        for i, agent in enumerate(acting):
            choose = getattr(agent.brain, "choose", None)
            if choose is None:
                slow.append(i)
                continue
            decisions[i] = self._safe(agent, lambda a=agent, c=choose: c(a.context(tick)))
        if slow:
            gate = asyncio.Semaphore(LLM_CONCURRENCY)

            async def one(i: int) -> None:
                async with gate:
                    try:
                        decisions[i] = await acting[i].brain.decide(acting[i].context(tick))
                    except Exception as exc:  # a brain must never stop the tick
                        log.exception("%s: brain failed", acting[i].id)
                        decisions[i] = _fallback(exc)

            await asyncio.gather(*(one(i) for i in slow))
        return [d or _fallback(None) for d in decisions]

    def _safe(self, agent: CognitiveAgent, decide: Callable[[], Decision]) -> Decision:
        try:
            return decide()
        except Exception as exc:
            log.exception("%s: brain failed", agent.id)
            return _fallback(exc)

    async def publish(self, acting: list[CognitiveAgent], outcomes: list[Outcome]) -> None:
        """Every action with the mind behind it, atomically, in one round trip."""
        if not outcomes:
            return
        keys = [self.keys.action_events, *(self.keys.agent_mind(a.id) for a in acting)]
        args = publish_args([(out.fields, out.mind) for out in outcomes])
        reflecting = [(a, out) for a, out in zip(acting, outcomes, strict=True) if out.reflections]
        if not reflecting:
            await self._publish(keys=keys, args=args)
            return
        async with self.redis.pipeline(transaction=True) as tx:
            await self._publish(keys=keys, args=args, client=tx)
            for agent, out in reflecting:
                self.memory.queue_reflections(tx, agent.id, out.reflections)
            await tx.execute()

    async def aclose(self) -> None:
        for agent in self.agents.values():
            await agent.brain.aclose()


def _fallback(exc: BaseException | None) -> Decision:
    reason = f"brain error: {exc!r}"[:200] if exc else "no decision"
    return Decision(action=Idle(reason=reason), reason=reason, brain="none")


def _this_run(mind: Mind | None, run_id: str) -> Mind | None:
    if mind is None or (run_id and mind.run_id and mind.run_id != run_id):
        return None
    return mind


def _sid(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms or 0), int(seq or 0)


def shard(ids: Sequence[str], index: int, count: int) -> list[str]:
    """The agents of shard ``index`` of ``count`` (round robin over sorted ids)."""
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count} does not exist")
    return [a for i, a in enumerate(sorted(ids)) if i % count == index]
