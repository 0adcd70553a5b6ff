"""Exports of awkward graphs (no metrics yet, isolated agents, no ties) read back with networkx."""

from __future__ import annotations

import csv
import io
import json

import networkx as nx
import pytest

from analytics import export, graph
from analytics.ingest import AnalyticsState
from scrai.events import Move, Speak
from tests.analytics.synth import World
from tests.scenarios import grid_town


def view_of(world: World, *, with_metrics: bool) -> dict:
    state = AnalyticsState.seeded(world.scenario)
    for i, e in enumerate(world.committed):
        state.apply(f"1-{i}", e)
    tick = state.meta.tick
    links = [graph.link(e, state.params, tick) for e in state.edges.values()]
    metrics = graph.compute_metrics(graph.build_graph(state.nodes, links))["nodes"]
    nodes = []
    for n in state.nodes.values():
        item = {"id": n.id, "name": n.name, "archetype": n.archetype, "place": n.place}
        m = metrics[n.id] if with_metrics else {}
        item.update({k: m.get(k) for k in ("strength", "degree", "betweenness", "community")})
        nodes.append(item)
    return {"tick": tick, "nodes": nodes, "links": links}


@pytest.mark.parametrize("with_metrics", [True, False])
@pytest.mark.parametrize("talk", [True, False])
def test_every_format_reads_back(tmp_path, with_metrics: bool, talk: bool) -> None:
    world = World(grid_town(agents=5, radius=0.0))
    world.step({"a01": Move(to="p00")})
    if talk:
        world.step({"a00": Speak(to="a01", text="hi")})
    view = view_of(world, with_metrics=with_metrics)
    expected = {frozenset((i["source"], i["target"])): i["weight"] for i in view["links"]}
    assert expected  # a00 and a01 share p00, so at least proximity ties them

    (tmp_path / "g.graphml").write_text(export.graphml(view))
    (tmp_path / "g.gexf").write_text(export.gexf(view))
    graphs = [
        nx.read_graphml(tmp_path / "g.graphml"),
        nx.read_gexf(tmp_path / "g.gexf"),
        nx.node_link_graph(json.loads(export.node_link(view)), edges="links"),
    ]
    for g in graphs:
        assert set(g.nodes) == {f"a0{i}" for i in range(5)}
        assert {frozenset(e) for e in g.edges} == set(expected)
        for a, b, data in g.edges(data=True):
            assert float(data["weight"]) == pytest.approx(expected[frozenset((a, b))])
        if with_metrics:  # isolated agents carry 0.0 strength beside floats: one type per key
            assert float(g.nodes["a04"]["strength"]) == 0.0


def test_csv_has_one_row_per_edge_and_tick() -> None:
    rows = [
        {"tick": t, "source": "a", "target": "b", "weight": 1.5, "proximity": 0.5,
         "conversation": 1.0, "shared_object": 0.0, "proximity_ticks": 5, "messages": 1,
         "turns": 1, "shared_uses": 0}
        for t in (5, 10)
    ]  # fmt: skip
    back = list(csv.DictReader(io.StringIO(export.edges_csv(rows))))
    assert [(r["tick"], r["source"], r["target"], float(r["weight"])) for r in back] == [
        ("5", "a", "b", 1.5),
        ("10", "a", "b", 1.5),
    ]
