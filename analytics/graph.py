"""The social graph from the tables, and its metrics (pure: networkx, no I/O).

Weights are tie strengths decayed to the tick asked for. The metrics graph keeps
ties at least ``min_tie_strength`` strong: weaker ones are passers-by, and would
make everyone everyone's neighbour in a busy square.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from analytics.params import KINDS, Params
from analytics.state import Edge, Node

# Exact betweenness is one shortest-path search per node: seconds at 1,000 nodes. Above
# this many nodes it is estimated from a seeded sample of sources instead.
EXACT_BETWEENNESS_MAX_NODES = 500


def betweenness_samples(n: int) -> int:
    """Sources sampled for betweenness: all up to the exact limit, then fewer as graphs grow."""
    if n <= EXACT_BETWEENNESS_MAX_NODES:
        return n
    return 50 if n <= 2_000 else 25


LIST_LIMIT = 200


def link(edge: Edge, params: Params, tick: int) -> dict[str, Any]:
    """One edge as the API shows it: combined weight; per kind, weight and counters."""
    strengths = edge.strengths(params, tick)
    kinds = edge.counters()
    for kind in KINDS:
        kinds[kind]["weight"] = strengths[kind]
    return {"source": edge.a, "target": edge.b, "weight": sum(strengths.values()), "kinds": kinds}


def snapshot_link(row: list[Any]) -> dict[str, Any]:
    """A snapshot's edge row in the same shape as :func:`link`."""
    a, b, sp, sc, so, prox_ticks, messages, turns, shared = row[:9]
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


def compute_metrics(g: nx.Graph, *, seed: int = 0) -> dict[str, Any]:
    """Per node strength, degree, betweenness, community; density, isolates, bridges."""
    started = time.perf_counter()
    n = g.number_of_nodes()
    for _, _, data in g.edges(data=True):
        data["distance"] = 1.0 / data["weight"]  # strong ties are short paths
    k = betweenness_samples(n)
    exact = k >= n
    if n == 0:
        betweenness: dict[str, float] = {}
    else:
        betweenness = nx.betweenness_centrality(
            g, k=None if exact else k, weight="distance", seed=seed
        )
    communities = (
        [sorted(c) for c in nx.community.louvain_communities(g, weight="weight", seed=seed)]
        if g.number_of_edges()
        else [[v] for v in sorted(g.nodes)]
    )
    communities.sort(key=lambda c: (-len(c), c[0]))
    community_of = {v: i for i, c in enumerate(communities) for v in c}
    nodes = {
        v: {
            "strength": float(sum(d["weight"] for _, _, d in g.edges(v, data=True))),
            "degree": g.degree(v),
            "betweenness": betweenness.get(v, 0.0),
            "community": community_of.get(v),
        }
        for v in g.nodes
    }
    isolates = sorted(nx.isolates(g))
    bridges = sorted(tuple(sorted(e)) for e in nx.bridges(g)) if g.number_of_edges() else []
    modularity = (
        nx.community.modularity(g, communities, weight="weight") if g.number_of_edges() else 0.0
    )
    graph = {
        "nodes": n,
        "edges": g.number_of_edges(),
        "density": nx.density(g) if n > 1 else 0.0,
        "communities": len([c for c in communities if len(c) > 1]),
        "modularity": modularity,
        "isolates": isolates[:LIST_LIMIT],
        "isolates_count": len(isolates),
        "bridges": [list(b) for b in bridges[:LIST_LIMIT]],
        "bridges_count": len(bridges),
        "betweenness": "exact" if exact else f"approximate (k={k} sampled sources)",
        "duration_ms": 0.0,
    }
    graph["duration_ms"] = (time.perf_counter() - started) * 1000
    return {"graph": graph, "nodes": nodes, "communities": communities}
