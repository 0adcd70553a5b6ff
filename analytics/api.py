"""The ``/api/analytics`` routes, mounted by the API server (``create_app``).

They read the Redis client and keys from ``app.state`` (set by the API's
lifespan) and only read what the AnalyticsSystem stored: no metric is ever
computed on a request.
"""

from __future__ import annotations

from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from analytics import query
from analytics.export import FORMATS, export
from scrai.keys import Keys

router = APIRouter(prefix="/api/analytics", tags=["analytics"])


def _redis(request: Request) -> aioredis.Redis:
    return request.app.state.redis


def _keys(request: Request) -> Keys:
    return request.app.state.keys


RedisDep = Annotated[aioredis.Redis, Depends(_redis)]
KeysDep = Annotated[Keys, Depends(_keys)]
Kind = Annotated[
    str | None, Query(description="only this kind of tie: proximity, conversation, shared_object")
]
MinWeight = Annotated[float, Query(ge=0, description="only ties at least this strong")]
AsOf = Annotated[
    int | None, Query(ge=0, description="the graph as of this tick (its latest snapshot)")
]


@router.get("")
async def social_graph(
    redis: RedisDep,
    keys: KeysDep,
    kind: Kind = None,
    min_weight: MinWeight = 0.0,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """The social graph: nodes with metrics, links with weight per kind, graph metrics, insights."""
    try:
        return await query.read_graph(redis, keys, kind=kind, min_weight=min_weight, as_of=as_of)
    except query.UnknownKind as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.get("/status")
async def status(redis: RedisDep, keys: KeysDep) -> dict[str, Any]:
    """How far analytics has got: tick and events folded, consumer lag, last metrics run."""
    return await query.read_status(redis, keys)


@router.get("/agents/{agent_id}")
async def agent(agent_id: str, redis: RedisDep, keys: KeysDep) -> dict[str, Any]:
    """One agent: node, metrics, movement, ties (strongest first, with evidence), insights."""
    found = await query.read_agent(redis, keys, agent_id)
    if found is None:
        raise HTTPException(
            status_code=404, detail=f"no agent {agent_id!r} in the analytics tables"
        )
    return found


@router.get("/insights")
async def insights(
    redis: RedisDep,
    keys: KeysDep,
    kind: Annotated[str | None, Query(description="e.g. friendship, hotspot")] = None,
    agent: Annotated[str | None, Query(description="only insights about this agent")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> dict[str, Any]:
    """Narrative insights, the most recent first, each with its evidence (event ids, ticks)."""
    items = await query.read_insights(redis, keys, kind=kind, agent=agent)
    return {"insights": items[:limit], "total": len(items)}


@router.get("/places")
async def places(redis: RedisDep, keys: KeysDep) -> dict[str, Any]:
    """Where agents spend time: occupancy, agent-ticks per window of ticks, the trend."""
    return await query.read_places(redis, keys)


@router.get("/objects")
async def objects(redis: RedisDep, keys: KeysDep) -> dict[str, Any]:
    """Who used which object and when, and how contested it is."""
    return await query.read_objects(redis, keys)


@router.get("/export")
async def export_graph(
    redis: RedisDep,
    keys: KeysDep,
    format: Annotated[str, Query(pattern="^(graphml|gexf|json|csv)$")] = "graphml",
    as_of: AsOf = None,
) -> Response:
    """The graph as GraphML, GEXF, node-link JSON, or CSV of edges over time (a download)."""
    media_type, ext = FORMATS[format]
    body = await export(redis, keys, format, as_of=as_of)
    return Response(
        content=body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="scrai-graph.{ext}"'},
    )
