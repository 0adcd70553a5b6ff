"""Reading the graph back from Redis, in the shape the API and the exports serve.

Reads only what the AnalyticsSystem stored (tables, metrics, insights,
snapshots); nothing here computes metrics, so a request never waits on graph maths.
"""

from __future__ import annotations

import json
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from analytics import graph as graphs
from analytics.history import graph_as_of
from analytics.params import KINDS, Params
from analytics.state import Movement, as_dict, load
from analytics.tables import read_meta, read_snapshot, read_table
from scrai.keys import Keys
from scrai.scenario.store import load_scenario

NODE_FIELDS = ("events", "moves", "messages_sent", "messages_received", "uses", "last_tick")
METRIC_FIELDS = ("strength", "degree", "betweenness", "community")


class UnknownKind(ValueError):
    pass


async def read_params(redis: aioredis.Redis, keys: Keys) -> Params:
    raw = cast(str | None, await redis.hget(keys.analytics("meta"), "params"))
    if raw:
        return Params.from_json(raw)
    return Params.from_scenario(await load_scenario(redis, keys))


async def read_metrics(redis: aioredis.Redis, keys: Keys) -> dict[str, Any]:
    raw = await redis.hgetall(keys.analytics("metrics"))
    return {
        "tick": int(raw["tick"]) if "tick" in raw else None,
        "graph": json.loads(raw["graph"]) if "graph" in raw else {},
        "nodes": json.loads(raw["nodes"]) if "nodes" in raw else {},
    }


async def read_insights(
    redis: aioredis.Redis, keys: Keys, *, kind: str | None = None, agent: str | None = None
) -> list[dict[str, Any]]:
    items = [json.loads(v) for v in await redis.hvals(keys.analytics("insights"))]
    if kind:
        items = [i for i in items if i["kind"] == kind]
    if agent:
        items = [i for i in items if agent in i["agents"]]
    items.sort(key=lambda i: (-i["tick"], -i["score"], i["id"]))
    return items


async def read_graph(
    redis: aioredis.Redis,
    keys: Keys,
    *,
    kind: str | None = None,
    min_weight: float = 0.0,
    as_of: int | None = None,
    with_insights: bool = True,
) -> dict[str, Any]:
    """``{"tick", "nodes", "links", "metrics", "insights"}``; ``as_of``: snapshot at or before."""
    if kind is not None and kind not in KINDS:
        raise UnknownKind(f"unknown edge kind {kind!r}; known: {', '.join(KINDS)}")
    params = await read_params(redis, keys)
    meta = await read_meta(redis, keys)
    tick = meta.tick if meta else 0
    nodes_table = await read_table(redis, keys, "nodes")
    metrics = await read_metrics(redis, keys)
    source = "live"
    if as_of is not None and as_of < tick:
        past, source = await graph_as_of(redis, keys, params, as_of)
        tick = past.meta.tick
        links = [graphs.link(e, params, tick) for e in past.edges.values()]
        snap_nodes = {nid: {"place": n.place} for nid, n in past.nodes.items()}
    else:
        edges = await read_table(redis, keys, "edges")
        links = [graphs.link(e, params, tick) for e in edges.values()]
        snap_nodes = {}
    links = graphs.select(links, kind=kind, min_weight=min_weight)
    links.sort(key=lambda item: (item["source"], item["target"]))
    nodes = []
    for nid in sorted(nodes_table):
        n = nodes_table[nid]
        item: dict[str, Any] = {
            "id": nid,
            "name": n.name,
            "archetype": n.archetype,
            "place": n.place,
        }
        if nid in snap_nodes:
            item["place"] = snap_nodes[nid].get("place")
        item.update({f: getattr(n, f) for f in NODE_FIELDS})
        m = metrics["nodes"].get(nid, {})
        item.update({f: m.get(f) for f in METRIC_FIELDS})
        nodes.append(item)
    graph_metrics = {**metrics["graph"], "computed_tick": metrics["tick"]}
    return {
        "tick": tick,
        "as_of": as_of,
        "source": source,
        "nodes": nodes,
        "links": links,
        "metrics": graph_metrics,
        "insights": await read_insights(redis, keys) if with_insights else [],
    }


async def read_status(redis: aioredis.Redis, keys: Keys) -> dict[str, Any]:
    """How far the analytics has got: position, tick, events folded, lag, last metrics run."""
    meta = cast(dict[str, str], await redis.hgetall(keys.analytics("meta")))
    metrics = await read_metrics(redis, keys)
    group: dict[str, Any] = {}
    try:
        for g in await redis.xinfo_groups(keys.committed_events):
            if g["name"] == "analytics":
                group = g
    except ResponseError:  # no stream yet
        pass
    return {
        "tick": int(meta.get("tick", 0)),
        "events": int(meta.get("events", 0)),
        "position": meta.get("position"),
        "rejected_position": meta.get("rejected_position"),
        "lag": group.get("lag"),
        "pending": group.get("pending"),
        "metrics_tick": metrics["tick"],
        "metrics_duration_ms": metrics["graph"].get("duration_ms"),
        "alive": bool(await redis.exists(keys.health("analytics"))),
    }


async def read_agent(redis: aioredis.Redis, keys: Keys, agent_id: str) -> dict[str, Any] | None:
    """One agent: node, movement (dwell up to now), ties strongest first with evidence, insights."""
    raw = await redis.hget(keys.analytics("nodes"), agent_id)
    if raw is None:
        return None
    node = as_dict("nodes", load("nodes", raw))
    params = await read_params(redis, keys)
    meta = await read_meta(redis, keys)
    tick = meta.tick if meta else 0
    move_raw = await redis.hget(keys.analytics("movement"), agent_id)
    movement: dict[str, Any] = {}
    if move_raw:
        m: Movement = load("movement", move_raw)
        movement = {
            "place": m.place,
            "distance": m.distance,
            "moves": m.moves,
            "visits": m.visits,
            "dwell": m.dwell_at(tick),
        }
    edges = await read_table(redis, keys, "edges")
    ties = []
    for e in edges.values():
        if agent_id in (e.a, e.b):
            item = graphs.link(e, params, tick)
            item["other"] = e.b if e.a == agent_id else e.a
            item["evidence"] = [{"event_id": x[0], "tick": x[1], "kind": x[2]} for x in e.evidence]
            item["first_tick"] = e.first_tick
            ties.append(item)
    ties.sort(key=lambda item: -item["weight"])
    metrics = await read_metrics(redis, keys)
    return {
        "tick": tick,
        "node": node,
        "metrics": metrics["nodes"].get(agent_id),
        "movement": movement,
        "ties": ties,
        "insights": await read_insights(redis, keys, agent=agent_id),
    }


async def read_places(redis: aioredis.Redis, keys: Keys) -> dict[str, Any]:
    """The movement table by place: occupancy now, agent-ticks per window (oldest first), trend."""
    params = await read_params(redis, keys)
    meta = await read_meta(redis, keys)
    tick = meta.tick if meta else 0
    w = params.window_ticks
    places = []
    for p in (await read_table(redis, keys, "places")).values():
        p.advance(params, tick)  # a copy read from Redis: account the open stays up to now
        windows = [
            {"window": [int(i) * w + 1, (int(i) + 1) * w], "agent_ticks": n}
            for i, n in sorted(p.windows.items(), key=lambda kv: int(kv[0]))
        ]
        done = [x for x in windows if x["window"][1] <= tick]
        trend = None
        if len(done) >= 2:
            last, before = done[-1]["agent_ticks"], done[-2]["agent_ticks"]
            trend = (
                "rising" if last > before * 1.5 else "falling" if last < before / 1.5 else "steady"
            )
        places.append({
            "id": p.id, "occupancy": p.occupancy, "agent_ticks": p.agent_ticks,
            "arrivals": p.arrivals, "windows": windows, "trend": trend,
        })  # fmt: skip
    places.sort(key=lambda x: (-x["agent_ticks"], x["id"]))
    return {"tick": tick, "window_ticks": w, "places": places}


async def read_objects(redis: aioredis.Redis, keys: Keys) -> dict[str, Any]:
    """The object-interaction table: who used what and when, contention, rejections."""
    from analytics.tables import read_rejections

    meta = await read_meta(redis, keys)
    rejections = await read_rejections(redis, keys)
    objects = []
    for o in (await read_table(redis, keys, "objects")).values():
        rejected_by = {
            k.split("|", 1)[1]: n for k, n in rejections.items() if k.startswith(f"{o.id}|")
        }
        objects.append({
            "id": o.id, "place": o.place, "uses": o.uses, "users": o.users,
            "last_user": o.last_user, "last_tick": o.last_tick, "contention": o.contention,
            "contenders": o.contenders, "rejections": rejections.get(o.id, 0),
            "rejected": rejected_by, "recent_uses": [
                {"event_id": x[0], "tick": x[1], "agent": x[2]} for x in o.log[-10:]
            ],
        })  # fmt: skip
    objects.sort(key=lambda x: (-x["uses"], x["id"]))
    return {"tick": meta.tick if meta else 0, "objects": objects}


async def edges_over_time(redis: aioredis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """One row per edge per snapshot tick, then the live edges: the CSV export's rows."""
    from analytics.tables import snapshot_ticks

    params = await read_params(redis, keys)
    rows: list[dict[str, Any]] = []
    for t in await snapshot_ticks(redis, keys):
        snap = await read_snapshot(redis, keys, t)
        if snap and snap["tick"] == t:
            rows += [_row(t, graphs.snapshot_link(r, params, t)) for r in snap["edges"]]
    live = await read_graph(redis, keys, with_insights=False)
    if not rows or rows[-1]["tick"] != live["tick"]:
        rows += [_row(live["tick"], item) for item in live["links"]]
    return rows


def _row(tick: int, item: dict[str, Any]) -> dict[str, Any]:
    k = item["kinds"]
    return {
        "tick": tick,
        "source": item["source"],
        "target": item["target"],
        "weight": item["weight"],
        "proximity": k["proximity"]["weight"],
        "conversation": k["conversation"]["weight"],
        "shared_object": k["shared_object"]["weight"],
        "proximity_ticks": k["proximity"]["ticks"],
        "messages": k["conversation"]["messages"],
        "turns": k["conversation"]["turns"],
        "shared_uses": k["shared_object"]["uses"],
    }
