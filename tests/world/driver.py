"""The test plays the agents: it reads the clock and publishes one ActionEvent per agent per tick.

No fake anywhere: the events go through the real stream to the real world system,
and the checks read back the real committed log.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from scrai.bus import publish_many
from scrai.connection import connect
from scrai.events import (
    Action,
    ActionEvent,
    Idle,
    Interact,
    Move,
    Speak,
    WorldStateCommittedEvent,
    WorldStateRejectedEvent,
    parse_event,
)
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.settings import Settings
from scrai.world.state import initial_state, load_clock, state_dicts
from scrai.world.system import WorldSystem
from tests.events_factory import RUN, action
from tests.helpers import wait_for

Script = Callable[[str, int], Action]


def random_script(scenario: Scenario, seed: int = 0) -> Script:
    """A mix of valid and invalid actions, decided by (agent, tick) alone, so runs repeat."""
    places = [p.id for p in scenario.world.places]
    objects = [o.id for o in scenario.world.objects]
    agents = [a.id for a in scenario.agents]

    def script(agent_id: str, tick: int) -> Action:
        rng = random.Random(f"{seed}:{agent_id}:{tick}")
        roll = rng.random()
        if roll < 0.3:
            return Move(to=rng.choice(places))
        if roll < 0.5:
            return Speak(to=rng.choice([None, *agents[:20]]), text=f"t{tick}")
        if roll < 0.75:
            return Interact(object_id=rng.choice(objects))
        return Idle()

    return script


class Cast:
    """Plays ``agents``: keeps them alive and acts once per opened tick, pipelined."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, agents: list[str], script: Script, tag: str = RUN
    ) -> None:
        self.redis, self.keys, self.agents, self.script, self.tag = redis, keys, agents, script, tag
        self.sequence = dict.fromkeys(agents, 0)
        self.published: list[ActionEvent] = []
        self.last_tick = 0

    async def keep_alive(self, ttl_s: float = 120) -> None:
        expiry = time.time() + ttl_s
        await self.redis.zadd(self.keys.agents_alive, dict.fromkeys(self.agents, expiry))

    async def act(self, tick: int) -> list[ActionEvent]:
        events = []
        for agent_id in self.agents:
            self.sequence[agent_id] += 1
            act = self.script(agent_id, tick)
            events.append(action(agent_id, self.sequence[agent_id], tick, act, run_id=self.tag))
        await publish_many(self.redis, self.keys.action_events, events)
        self.published.extend(events)
        self.last_tick = tick
        return events

    async def play(self, last_tick: int, timeout_s: float = 60) -> None:
        """Act in every tick the world opens, up to ``last_tick``."""
        await self.keep_alive()
        while self.last_tick < last_tick:
            clock = await wait_for(self._next_open_tick, timeout_s)
            await self.act(clock)

    async def _next_open_tick(self) -> int | None:
        clock = await load_clock(self.redis, self.keys)
        if clock and clock.is_open and clock.tick > self.last_tick:
            return clock.tick
        return None


async def closed(redis: aioredis.Redis, keys: Keys, tick: int) -> bool:
    """Whether the world has closed ``tick`` (a condition for ``wait_for``)."""
    clock = await load_clock(redis, keys)
    return clock is not None and clock.last_closed >= tick


async def tick_open(redis: aioredis.Redis, keys: Keys, tick: int) -> bool:
    """Whether ``tick`` (or a later one) is open for actions."""
    clock = await load_clock(redis, keys)
    return clock is not None and clock.tick >= tick and clock.is_open


@asynccontextmanager
async def running_world(settings: Settings, **kwargs: Any) -> AsyncIterator[WorldSystem]:
    """The world system in this process, with its own client, stopped on exit."""
    client = connect(settings, block_ms=1_000)
    system = WorldSystem(client, Keys(settings.namespace), settings, **kwargs)
    stop = asyncio.Event()
    task = asyncio.create_task(system.run(stop))
    try:
        yield system
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 20)
        finally:
            await client.aclose()


async def read_log(
    redis: aioredis.Redis, keys: Keys
) -> tuple[list[Any], list[WorldStateRejectedEvent]]:
    """Every event of the committed stream (commits and ticks), and every rejection, parsed."""
    committed = [parse_event(f) for _, f in await redis.xrange(keys.committed_events)]
    rejected = [parse_event(f) for _, f in await redis.xrange(keys.rejected_events)]
    return committed, rejected  # type: ignore[return-value]


def replay(scenario: Scenario, log: list[Any]) -> dict[str, dict[str, Any]]:
    """The world state rebuilt from the seed and the committed log: at each tick, the
    objects' refill first, then the committed ``after`` dicts in order."""
    state = state_dicts(initial_state(scenario))
    rules = {o.id: o.rules for o in scenario.world.objects}
    tick = 0
    for event in log:
        if event.tick != tick:  # every tick has a TickEvent, so no tick is skipped
            tick = event.tick
            for object_id, rule in rules.items():
                obj = state[f"object:{object_id}"]
                if rule.refill_per_tick > 0 and obj["resource"] is not None:
                    cap = rule.max_resource
                    topped = obj["resource"] + rule.refill_per_tick
                    obj["resource"] = topped if cap is None else min(cap, topped)
        if isinstance(event, WorldStateCommittedEvent):
            state.update(event.payload.after)
    return state
