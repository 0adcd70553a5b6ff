"""The social graph from the tables, and its metrics (pure: networkx/igraph, no I/O).

Weights are tie strengths decayed to the tick asked for. The metrics graph keeps
ties at least ``min_tie_strength`` strong: weaker ones are passers-by, and would
make everyone everyone's neighbour in a busy square.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from analytics import centrality
from analytics.params import KINDS, Params
from analytics.state import Edge, Node

LIST_LIMIT = centrality.LIST_LIMIT


def link(edge: Edge, params: Params, tick: int) -> dict[str, Any]:
    """One edge as the API shows it: combined weight; per kind, weight and counters."""
    strengths = edge.strengths(params, tick)
    kinds = edge.counters()
    for kind in KINDS:
        kinds[kind]["weight"] = strengths[kind]
    return {"source": edge.a, "target": edge.b, "weight": sum(strengths.values()), "kinds": kinds}


def snapshot_link(row: list[Any], params: Params, tick: int) -> dict[str, Any]:
    """A snapshot's edge row in the same shape as :func:`link`, weights as of ``tick`` (the
    snapshot's; a row holds its strengths as of its own tick, or, older rows, as of ``tick``)."""
    a, b, sp, sc, so, prox_ticks, messages, turns, shared = row[:9]
    if len(row) > 13:
        f = params.decay(tick - row[13])
        sp, sc, so = sp * f, sc * f, so * f
    return {
        "source": a,
        "target": b,
        "weight": sp + sc + so,
        "kinds": {
            "proximity": {"ticks": prox_ticks, "weight": sp},
            "conversation": {"messages": messages, "turns": turns, "weight": sc},
            "shared_object": {"uses": shared, "weight": so},
        },
    }


def select(
    links: Iterable[dict[str, Any]], *, kind: str | None = None, min_weight: float = 0.0
) -> list[dict[str, Any]]:
    """Links of one kind (weight = that kind's) at least ``min_weight`` strong."""
    out = []
    for item in links:
        weight = item["kinds"][kind]["weight"] if kind else item["weight"]
        if weight > 0 and weight >= min_weight:
            out.append({**item, "weight": weight} if kind else item)
    return out


def build_graph(
    nodes: Mapping[str, Node | Mapping[str, Any]], links: Iterable[dict[str, Any]]
) -> nx.Graph:
    """An undirected graph: node attributes name/archetype/place, edge attribute ``weight``."""
    g = nx.Graph()
    for nid, node in nodes.items():
        if isinstance(node, Node):
            g.add_node(nid, name=node.name, archetype=node.archetype or "", place=node.place or "")
        else:
            g.add_node(
                nid,
                name=node.get("name", nid),
                archetype=node.get("archetype") or "",
                place=node.get("place") or "",
            )
    for item in links:
        g.add_edge(item["source"], item["target"], weight=float(item["weight"]))
    return g


def graph_arrays(g: nx.Graph) -> tuple[list[str], list[tuple[int, int]], list[float]]:
    """A networkx graph as node ids, index pairs and weights (what the metrics run takes)."""
    ids = list(g.nodes)
    index = {v: i for i, v in enumerate(ids)}
    pairs, weights = [], []
    for u, v, data in g.edges(data=True):
        pairs.append((index[u], index[v]))
        weights.append(float(data["weight"]))
    return ids, pairs, weights


def tie_arrays(
    nodes: Iterable[str], edges: Iterable[Edge], params: Params, tick: int, min_weight: float
) -> tuple[list[str], list[tuple[int, int]], list[float]]:
    """The metrics graph straight from the tie records: ties at least ``min_weight`` strong,
    decayed to ``tick``; no per-tie dicts and no networkx graph on the way."""
    ids = list(nodes)
    index = {v: i for i, v in enumerate(ids)}
    pairs, weights = [], []
    decay = params.decay
    for e in edges:
        f = decay(tick - e.s_tick)
        w = e.s_prox * f + e.s_conv * f + e.s_obj * f  # as :func:`link` sums it
        if w <= 0 or w < min_weight:
            continue
        for v in (e.a, e.b):
            if v not in index:
                index[v] = len(ids)
                ids.append(v)
        pairs.append((index[e.a], index[e.b]))
        weights.append(w)
    return ids, pairs, weights


def compute_metrics(g: nx.Graph, *, seed: int = 0, resolution: float = 1.0) -> dict[str, Any]:
    """Per node strength, degree, betweenness, community; density, isolates, bridges."""
    ids, pairs, weights = graph_arrays(g)
    return centrality.compute(ids, pairs, weights, seed=seed, resolution=resolution)
