"""``GET /api/world``: places with positions, objects with their state, where everyone is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from scrai.api.deps import KeysDep, RedisDep, ScenarioDep
from scrai.api.streams import json_object

router = APIRouter(prefix="/api", tags=["world"])


@router.get("/world", summary="Places, objects and agents' positions")
async def get_world(redis: RedisDep, keys: KeysDep, scenario: ScenarioDep) -> dict[str, Any]:
    """The map of the running world. Empty lists (and ``scenario: null``) before it is seeded."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.agents_state)
        pipe.hgetall(keys.objects_state)
        pipe.hgetall(keys.clock)
        agents_raw, objects_raw, clock = await pipe.execute()
    if scenario is None:
        return {"scenario": None, "tick": None, "places": [], "objects": [], "agents": []}
    places = [
        {
            "id": p.id,
            "name": p.name,
            "x": p.position[0],
            "y": p.position[1],
            "capacity": p.capacity,
            "neighbors": p.neighbors,
            "tags": p.tags,
        }
        for p in scenario.world.places
    ]
    objects = []
    for obj in scenario.world.objects:
        state = json_object(objects_raw.get(obj.id))
        objects.append(
            {
                "id": obj.id,
                "kind": obj.kind,
                "name": obj.name or obj.id,
                "place": state.get("place", obj.place),
                "satisfies": obj.satisfies,
                "max_resource": obj.rules.max_resource,
                "state": state,
            }
        )
    agents = []
    for agent in scenario.agents:
        state = json_object(agents_raw.get(agent.id))
        agents.append(
            {
                "id": agent.id,
                "name": agent.name,
                "place": state.get("place", agent.place),
                "last_tick": state.get("last_tick"),
                "archetype": agent.archetype,
            }
        )
    tick = clock.get("tick")
    return {
        "scenario": scenario.name,
        "tick": int(tick) if tick and tick.isdigit() else None,
        "places": places,
        "objects": objects,
        "agents": agents,
    }
