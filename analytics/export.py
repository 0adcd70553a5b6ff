"""The graph as files: GraphML and GEXF (for Gephi), node-link JSON, CSV of edges over time.

Pure functions over what :mod:`analytics.query` reads; every format reads back
with networkx (``read_graphml``, ``read_gexf``, ``node_link_graph``) or ``csv``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import networkx as nx

FORMATS = {
    "graphml": ("application/graphml+xml", "graphml"),
    "gexf": ("application/gexf+xml", "gexf"),
    "json": ("application/json", "json"),
    "csv": ("text/csv", "csv"),
}
CSV_FIELDS = (
    "tick", "source", "target", "weight", "proximity", "conversation", "shared_object",
    "proximity_ticks", "messages", "turns", "shared_uses",
)  # fmt: skip


def to_networkx(view: dict[str, Any]) -> nx.Graph:
    """A graph whose attributes are plain scalars (GraphML and GEXF allow nothing else)."""
    g = nx.Graph(tick=view["tick"])
    for node in view["nodes"]:
        attrs = {k: v for k, v in node.items() if k != "id" and isinstance(v, str | int | float)}
        attrs = {k: v for k, v in attrs.items() if not isinstance(v, bool)}
        g.add_node(node["id"], **attrs)
    for item in view["links"]:
        k = item["kinds"]
        g.add_edge(
            item["source"],
            item["target"],
            weight=float(item["weight"]),
            proximity=float(k["proximity"]["weight"]),
            conversation=float(k["conversation"]["weight"]),
            shared_object=float(k["shared_object"]["weight"]),
            proximity_ticks=int(k["proximity"]["ticks"]),
            messages=int(k["conversation"]["messages"]),
            turns=int(k["conversation"]["turns"]),
            shared_uses=int(k["shared_object"]["uses"]),
        )
    return g


def graphml(view: dict[str, Any]) -> str:
    return "\n".join(nx.generate_graphml(to_networkx(view)))


def gexf(view: dict[str, Any]) -> str:
    return "\n".join(nx.generate_gexf(to_networkx(view)))


def node_link(view: dict[str, Any]) -> str:
    data = nx.node_link_data(to_networkx(view), edges="links")
    return json.dumps(data, indent=1)


def edges_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def export(redis: Any, keys: Any, fmt: str, *, as_of: int | None = None) -> str:
    """The graph (or, for csv, the edges at every snapshot tick and now) as text in ``fmt``."""
    from analytics.query import edges_over_time, read_graph

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "csv":
        return edges_csv(await edges_over_time(redis, keys))
    view = await read_graph(redis, keys, as_of=as_of, with_insights=False)
    return {"graphml": graphml, "gexf": gexf, "json": node_link}[fmt](view)
