"""``GET /api/agents`` and ``GET /api/agents/{id}``: who is in the world, and what they think.

The detail joins the scenario (persona, traits, goals), the world state (place,
sequence, last rejection), the mind the worker keeps (needs, plan, last decision
with its trace) and the agent's recent memories.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query

from scrai.api.deps import KeysDep, RedisDep, ScenarioDep
from scrai.api.streams import decode_hash_json, json_object
from scrai.memory.store import MemoryStore
from scrai.scenario.model import Scenario

router = APIRouter(prefix="/api/agents", tags=["agents"])

AgentId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@router.get("", summary="Every agent: name, place, alive")
async def list_agents(
    redis: RedisDep,
    keys: KeysDep,
    scenario: ScenarioDep,
    limit: int = Query(default=5_000, ge=1, le=100_000),
) -> dict[str, Any]:
    if scenario is None:
        return {"agents": [], "total": 0}
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.agents_state)
        pipe.zrangebyscore(keys.agents_alive, time.time(), "+inf")
        states, alive = await pipe.execute()
    alive_set = set(alive)
    agents = []
    for agent in scenario.agents[:limit]:
        state = json_object(states.get(agent.id))
        agents.append(
            {
                "id": agent.id,
                "name": agent.name,
                "archetype": agent.archetype,
                "place": state.get("place", agent.place),
                "alive": agent.id in alive_set,
                "last_tick": state.get("last_tick"),
                "brain": agent.brain.type,
            }
        )
    return {"agents": agents, "total": len(scenario.agents)}


def _scenario_agent(scenario: Scenario | None, agent_id: str) -> dict[str, Any]:
    if scenario is None:
        raise HTTPException(404, detail="no scenario is running yet")
    for agent in scenario.agents:
        if agent.id == agent_id:
            return agent.model_dump(mode="json", exclude={"secret"})
    raise HTTPException(404, detail=f"no agent {agent_id!r} in scenario {scenario.name!r}")


async def _recent_memories(
    redis: RedisDep, keys: KeysDep, scenario: Scenario, agent_id: str, n: int
) -> list[dict[str, Any]]:
    """The agent's ``n`` newest memories, newest first, as the memory store keeps them."""
    store = MemoryStore(redis, keys, scenario.memory)
    return [json.loads(memory.to_json()) for memory in await store.recent(agent_id, n)]


@router.get("/{agent_id}", summary="One agent: persona, state, needs, plan, memories, decision")
async def get_agent(
    redis: RedisDep,
    keys: KeysDep,
    scenario: ScenarioDep,
    agent_id: str = AgentId,
    memories: int = Query(default=10, ge=0, le=200, description="how many recent memories"),
) -> dict[str, Any]:
    profile = _scenario_agent(scenario, agent_id)
    assert scenario is not None
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(keys.agents_state, agent_id)
        pipe.hgetall(keys.agent_mind(agent_id))
        pipe.zscore(keys.agents_alive, agent_id)
        pipe.hget(keys.worker_status, agent_id)
        state_raw, mind_raw, expiry, worker_raw = await pipe.execute()
    state = json_object(state_raw)
    profile["start_place"] = profile.pop("place")
    return {
        **profile,
        "place": state.get("place", profile["start_place"]),
        "state": state,
        "alive": expiry is not None and float(expiry) >= time.time(),
        "worker": json_object(worker_raw) or None,
        "mind": decode_hash_json(mind_raw),
        "memories": await _recent_memories(redis, keys, scenario, agent_id, memories)
        if memories
        else [],
    }
