"""The metrics run's maths (igraph) against networkx's definitions, on small graphs (pure)."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from analytics import centrality, graph
from analytics.params import Params
from analytics.state import Edge


def weighted_graph(n: int, seed: int) -> nx.Graph:
    g = nx.powerlaw_cluster_graph(n, 3, 0.3, seed=seed)
    rng = random.Random(seed)
    for u, v in g.edges:
        g[u][v]["weight"] = rng.uniform(0.5, 5.0)  # continuous: no two paths tie
    g.add_node(n)  # an isolate
    return nx.relabel_nodes(g, {v: f"a{v:03d}" for v in g.nodes})


def test_exact_metrics_match_networkx() -> None:
    g = weighted_graph(80, seed=4)
    got = graph.compute_metrics(g, seed=1)
    assert got["graph"]["betweenness"] == "exact"
    for _, _, d in g.edges(data=True):
        d["distance"] = 1.0 / d["weight"]
    want = nx.betweenness_centrality(g, weight="distance")
    for v in g.nodes:
        node = got["nodes"][v]
        assert node["betweenness"] == pytest.approx(want[v], abs=1e-9), v
        assert node["degree"] == g.degree(v)
        assert node["strength"] == pytest.approx(g.degree(v, weight="weight"))
    assert got["graph"]["density"] == pytest.approx(nx.density(g))
    assert got["graph"]["isolates"] == ["a080"]
    assert [tuple(b) for b in got["graph"]["bridges"]] == sorted(
        tuple(sorted(e)) for e in nx.bridges(g)
    )
    members = sorted(v for c in got["communities"] for v in c)
    assert members == sorted(g.nodes)  # a partition of every agent
    assert got["graph"]["modularity"] == pytest.approx(
        nx.community.modularity(g, got["communities"], weight="weight")
    )


def test_two_factions_and_the_bridge_between_them() -> None:
    g = nx.Graph()
    left, right = [f"l{i}" for i in range(6)], [f"r{i}" for i in range(6)]
    for side in (left, right):
        g.add_edges_from(((a, b) for i, a in enumerate(side) for b in side[i + 1 :]), weight=3.0)
    g.add_edge("l0", "r0", weight=1.0)
    got = graph.compute_metrics(g, seed=7)
    assert sorted(got["communities"]) == [left, right]
    assert got["graph"]["bridges"] == [["l0", "r0"]]
    hub = max(got["nodes"], key=lambda v: got["nodes"][v]["betweenness"])
    assert hub in ("l0", "r0")


def test_large_graphs_are_sampled_within_the_budget_and_deterministic() -> None:
    g = weighted_graph(300, seed=5)
    ids, pairs, weights = graph.graph_arrays(g)
    budget = 30 * (len(ids) + len(pairs))  # 30 sources' worth
    a = centrality.compute(ids, pairs, weights, seed=3, budget=budget)
    b = centrality.compute(ids, pairs, weights, seed=3, budget=budget)
    assert a["graph"]["betweenness"] == "approximate (k=30 sampled sources)"
    assert a == {**b, "graph": {**b["graph"], "duration_ms": a["graph"]["duration_ms"]}}
    exact = centrality.compute(ids, pairs, weights, seed=3)
    assert exact["graph"]["betweenness"] == "exact"
    top = sorted(ids, key=lambda v: -exact["nodes"][v]["betweenness"])[:3]
    sampled_top = sorted(ids, key=lambda v: -a["nodes"][v]["betweenness"])[:10]
    assert set(top) <= set(sampled_top)  # the estimate finds the real brokers


def test_exact_up_to_about_a_thousand_agents() -> None:
    assert centrality.betweenness_sources(1_000, 6_000) == 1_000
    assert centrality.betweenness_sources(10_000, 60_000) < 10_000


def test_tie_arrays_keep_what_the_served_graph_keeps() -> None:
    params = Params(min_tie_strength=0.5)
    edges = [
        Edge("a", "b", s_prox=0.4, s_conv=0.2, s_tick=10),  # 0.6 at tick 10
        Edge("a", "c", s_prox=0.3, s_tick=10),  # too weak
        Edge("b", "x", s_conv=2.0, s_tick=0),  # decayed, still strong; x has no node
    ]
    ids, pairs, weights = graph.tie_arrays(["a", "b", "c"], edges, params, 10, 0.5)
    links = graph.select([graph.link(e, params, 10) for e in edges], min_weight=0.5)
    assert ids == ["a", "b", "c", "x"]
    assert [(ids[i], ids[j]) for i, j in pairs] == [(x["source"], x["target"]) for x in links]
    assert weights == [x["weight"] for x in links]
