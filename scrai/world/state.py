"""World state in Redis: seeding, loading, and the read API every other process uses.

Layout (written only by the world system; see CONTRACTS "Redis layout"):
``keys.world_meta`` (scenario, scenario_hash, seed, run_id, seeded_at),
``keys.clock`` (:class:`scrai.world.clock.Clock`), ``keys.agents_state`` and
``keys.objects_state`` (JSON of :mod:`scrai.world.entities`),
``keys.staged_actions(tick)`` (agent id -> action event fields as JSON).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from scrai.events import Action, ActionEvent, EventError, parse_event
from scrai.keys import Keys
from scrai.scenario.model import ObjectRules, Place, Scenario
from scrai.scenario.store import load_scenario
from scrai.world.clock import Clock
from scrai.world.entities import AgentState, ObjectState
from scrai.world.rules import WorldMap, WorldState


async def hgetall(redis: aioredis.Redis, key: str) -> dict[str, str]:
    """HGETALL with the client's decoded (str) replies, typed as such."""
    return await redis.hgetall(key)  # type: ignore[return-value]


def scenario_hash(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]


def initial_state(scenario: Scenario) -> WorldState:
    agents = {a.id: AgentState(place=a.place) for a in scenario.agents}
    objects = {
        o.id: ObjectState(place=o.place, resource=o.rules.resource) for o in scenario.world.objects
    }
    return WorldState(agents, objects)


async def is_seeded(redis: aioredis.Redis, keys: Keys) -> bool:
    return bool(await redis.exists(keys.world_meta))


async def seed_world(
    redis: aioredis.Redis, keys: Keys, scenario: Scenario, *, run_id: str | None = None
) -> dict[str, str]:
    """Write the scenario's starting state, replacing any earlier world, in one step."""
    state = initial_state(scenario)
    meta = {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": str(scenario.seed),
        "run_id": run_id or uuid.uuid4().hex,
        "seeded_at": repr(time.time()),
    }
    staged = [k async for k in redis.scan_iter(match=keys.staged_actions(0)[:-1] + "*")]
    async with redis.pipeline(transaction=True) as tx:
        tx.delete(keys.agents_state, keys.objects_state, keys.clock, keys.world_meta, *staged)
        if state.agents:
            tx.hset(keys.agents_state, mapping={k: v.to_json() for k, v in state.agents.items()})
        if state.objects:
            tx.hset(keys.objects_state, mapping={k: v.to_json() for k, v in state.objects.items()})
        tx.hset(keys.clock, mapping=Clock().to_hash())  # type: ignore[arg-type]
        tx.hset(keys.world_meta, mapping=meta)  # type: ignore[arg-type]
        await tx.execute()
    return meta


async def load_state(redis: aioredis.Redis, keys: Keys) -> WorldState:
    async with redis.pipeline(transaction=True) as tx:
        tx.hgetall(keys.agents_state)
        tx.hgetall(keys.objects_state)
        agents_raw, objects_raw = await tx.execute()
    return WorldState(
        {k: AgentState.from_json(v) for k, v in agents_raw.items()},
        {k: ObjectState.from_json(v) for k, v in objects_raw.items()},
    )


async def load_clock(redis: aioredis.Redis, keys: Keys) -> Clock | None:
    data = await hgetall(redis, keys.clock)
    return Clock.from_hash(data) if data else None


@dataclass(slots=True)
class Staged:
    """An admitted action waiting for its tick to close, with the texts its commit
    (or rejection) needs computed once, when it arrives."""

    event: ActionEvent
    event_id: str  # str(event.event_id)
    action: dict[str, Any]  # the action's fields as JSON values (see action_fields)

    @classmethod
    def of(cls, event: ActionEvent) -> Staged:
        return cls(event, str(event.event_id), action_fields(event.payload.action))


def action_fields(action: Action) -> dict[str, Any]:
    """The action as the dict its JSON encodes, without a pydantic dump (hot path).

    Every action model has only str and None fields, so its ``__dict__`` is already
    JSON-ready and orjson writes what ``model_dump_json`` writes (tests compare them).
    """
    return action.__dict__


def encode_staged(staged: Staged) -> bytes:
    """The staged hash's value: the action event's stream fields, as JSON."""
    event = staged.event
    fields = {
        "event_id": staged.event_id,
        "type": "action",
        "entity_id": event.entity_id,
        "sequence": str(event.sequence),
        "tick": str(event.tick),
        "timestamp": repr(event.timestamp),
        "schema_version": str(event.schema_version),
        "payload": orjson.dumps({"action": staged.action}).decode(),
    }
    if event.trace_id is not None:
        fields["trace_id"] = event.trace_id
    return orjson.dumps(fields)


async def load_staged(redis: aioredis.Redis, keys: Keys, tick: int) -> dict[str, Staged]:
    """The actions staged for ``tick``, by agent id (unreadable entries are skipped)."""
    staged: dict[str, Staged] = {}
    for agent_id, raw in (await hgetall(redis, keys.staged_actions(tick))).items():
        try:
            event = parse_event(json.loads(raw))
        except (EventError, ValueError):
            continue
        if isinstance(event, ActionEvent):
            staged[agent_id] = Staged.of(event)
    return staged


# -- the read API ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectView:
    id: str
    kind: str
    place: str
    state: ObjectState
    rules: ObjectRules
    stock: float | None  # what is left to use now; None: endless


@dataclass(frozen=True, slots=True)
class PlaceView:
    place: Place
    occupants: list[str]
    objects: list[str]


@dataclass(frozen=True, slots=True)
class Nearby:
    """Who and what is within a range of an agent, nearest first: (id, distance)."""

    place: str
    agents: list[tuple[str, float]]
    objects: list[tuple[str, float]]


class WorldReader:
    """Read-only view of the world for agents, the API and analytics.

    The scenario (static) is read once and cached; every state read goes to Redis.
    """

    def __init__(self, redis: aioredis.Redis, keys: Keys, scenario: Scenario | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self._scenario = scenario
        self._map: WorldMap | None = WorldMap(scenario) if scenario else None

    async def world_map(self) -> WorldMap:
        if self._map is None:
            scenario = self._scenario or await load_scenario(self.redis, self.keys)
            if scenario is None:
                raise LookupError("no scenario stored")
            self._scenario, self._map = scenario, WorldMap(scenario)
        return self._map

    async def clock(self) -> Clock | None:
        return await load_clock(self.redis, self.keys)

    async def meta(self) -> dict[str, str]:
        return await hgetall(self.redis, self.keys.world_meta)

    async def agent(self, agent_id: str) -> AgentState | None:
        raw = await self.redis.hget(self.keys.agents_state, agent_id)
        return AgentState.from_json(str(raw)) if raw else None

    async def agents(self) -> dict[str, AgentState]:
        raw = await hgetall(self.redis, self.keys.agents_state)
        return {k: AgentState.from_json(v) for k, v in sorted(raw.items())}

    async def object(self, object_id: str) -> ObjectView | None:
        world = await self.world_map()
        raw = await self.redis.hget(self.keys.objects_state, object_id)
        if raw is None or object_id not in world.rules:
            return None
        return self._view(world, object_id, ObjectState.from_json(str(raw)))

    async def objects(self) -> dict[str, ObjectView]:
        world = await self.world_map()
        raw = await hgetall(self.redis, self.keys.objects_state)
        return {
            k: self._view(world, k, ObjectState.from_json(v))
            for k, v in sorted(raw.items())
            if k in world.rules
        }

    def _view(self, world: WorldMap, object_id: str, state: ObjectState) -> ObjectView:
        obj = next(o for o in world.scenario.world.objects if o.id == object_id)
        return ObjectView(object_id, obj.kind, state.place, state, obj.rules, state.resource)

    async def place(self, place_id: str) -> PlaceView | None:
        world = await self.world_map()
        if place_id not in world.positions:
            return None
        agents = await self.agents()
        return PlaceView(
            world.scenario.place(place_id),
            sorted(a for a, s in agents.items() if s.place == place_id),
            sorted(o for o, p in world.object_place.items() if p == place_id),
        )

    async def near(self, agent_id: str, radius: float | None = None) -> Nearby | None:
        """Agents and objects within ``radius`` (default: perception range) of an agent."""
        world = await self.world_map()
        agents = await self.agents()
        me = agents.get(agent_id)
        if me is None:
            return None
        r = world.perception_range if radius is None else radius
        others = [
            (a, world.distance(me.place, s.place))
            for a, s in agents.items()
            if a != agent_id and world.distance(me.place, s.place) <= r
        ]
        things = [
            (o, world.distance(me.place, p))
            for o, p in world.object_place.items()
            if world.distance(me.place, p) <= r
        ]
        return Nearby(me.place, _nearest(others), _nearest(things))

    async def reachable_places(self, agent_id: str) -> list[str]:
        world = await self.world_map()
        me = await self.agent(agent_id)
        return world.reachable(me.place) if me else []


def _nearest(items: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return sorted(items, key=lambda item: (item[1], item[0]))


def state_dicts(state: WorldState) -> dict[str, Any]:
    """The state as plain dicts keyed like committed events ("agent:<id>", "object:<id>")."""
    out: dict[str, Any] = {f"agent:{k}": v.to_dict() for k, v in state.agents.items()}
    out.update({f"object:{k}": v.to_dict() for k, v in state.objects.items()})
    return out
