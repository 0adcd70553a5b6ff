"""Narrative insights: what a director would want pointed out (pure, no I/O).

Each detector reads the tables (and the latest metrics) and returns insights
with the evidence behind them: event ids and ticks. An insight's ``id`` names
its subject (``friendship:alice|bob``), so running the detectors again updates
an insight rather than repeating it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics.params import Params
from analytics.state import Edge, Evidence, Node, ObjectStats, PlaceStats

FALLING_OUT_RATIO = 0.5  # a friendship fallen below half its peak
HUB_MIN_DEGREE = 3
HUB_DEGREE_FACTOR = 2.0  # a hub has at least twice the mean degree
FACTION_MIN_SIZE = 3
FACTION_MATCH = 0.5  # Jaccard similarity for "the same faction as before"
CONTESTED_MIN_EVENTS = 3  # rejections + same-tick extra users
HOTSPOT_FACTOR = 2.0  # agent-ticks at least twice the mean place's
EVIDENCE_SHOWN = 10

Insight = dict[str, Any]


@dataclass
class View:
    """What the detectors read."""

    params: Params
    tick: int
    nodes: Mapping[str, Node]
    edges: Mapping[str, Edge]
    objects: Mapping[str, ObjectStats] = field(default_factory=dict)
    places: Mapping[str, PlaceStats] = field(default_factory=dict)
    rejections: Mapping[str, int] = field(default_factory=dict)
    rejection_evidence: list[list[Any]] = field(default_factory=list)
    metrics: Mapping[str, Any] | None = None
    previous_communities: list[list[str]] | None = None
    # Edge keys of pairs the scenario declares rivals or enemies.
    rivals: set[str] = field(default_factory=set)


def _ev(items: Iterable[Evidence]) -> list[dict[str, Any]]:
    return [{"event_id": e[0], "tick": e[1], "kind": e[2]} for e in items][-EVIDENCE_SHOWN:]


def _insight(kind: str, subject: str, tick: int, title: str, **extra: Any) -> Insight:
    base = {
        "id": f"{kind}:{subject}",
        "kind": kind,
        "tick": tick,
        "title": title,
        "agents": [],
        "objects": [],
        "places": [],
        "evidence": [],
        "score": 0.0,
    }
    base.update(extra)
    return base


def _name(view: View, agent: str) -> str:
    node = view.nodes.get(agent)
    return node.name if node else agent


def friendships(view: View) -> list[Insight]:
    """A tie that rose across the friendship threshold and still holds."""
    thr, out = view.params.friendship_threshold, []
    for e in view.edges.values():
        strength = e.strength(view.params, view.tick)
        if e.friends_tick is not None and strength >= thr:
            first = [[e.friends_event, e.friends_tick, "crossed"]] if e.friends_event else []
            out.append(
                _insight(
                    "friendship",
                    e.key,
                    e.friends_tick,
                    f"{_name(view, e.a)} and {_name(view, e.b)} became friends",
                    agents=[e.a, e.b],
                    evidence=_ev(first + e.evidence),
                    score=strength,
                )
            )
    return out


def fallings_out(view: View) -> list[Insight]:
    """A friendship that fell below half its peak; or declared rivals fighting over an object."""
    thr, out = view.params.friendship_threshold, []
    for e in view.edges.values():
        strength = e.strength(view.params, view.tick)
        if e.peak >= thr and strength < e.peak * FALLING_OUT_RATIO:
            out.append(
                _insight(
                    "falling_out",
                    e.key,
                    view.tick,
                    f"{_name(view, e.a)} and {_name(view, e.b)} drifted apart",
                    agents=[e.a, e.b],
                    evidence=_ev(e.evidence),
                    score=e.peak - strength,
                    peak=e.peak,
                    peak_tick=e.peak_tick,
                    strength=strength,
                )
            )
    for o in view.objects.values():
        rivals = sorted(
            (a, b)
            for a in o.contenders
            for b in o.contenders
            if a < b and f"{a}|{b}" in view.rivals
        )
        for a, b in rivals:
            ev = [x for x in o.contention_evidence]
            out.append(
                _insight(
                    "falling_out",
                    f"{a}|{b}:{o.id}",
                    max((x[1] for x in ev), default=view.tick),
                    f"Rivals {_name(view, a)} and {_name(view, b)} clash over {o.id}",
                    agents=[a, b],
                    objects=[o.id],
                    evidence=_ev(ev),
                    score=float(o.contenders[a] + o.contenders[b]),
                )
            )
    return out


def isolated(view: View) -> list[Insight]:
    """Agents with no tie of at least ``min_tie_strength`` once a window of ticks has passed."""
    if view.metrics is None or view.tick < view.params.window_ticks:
        return []
    out = []
    for agent, m in view.metrics["nodes"].items():
        if m["degree"] == 0 and agent in view.nodes:
            node = view.nodes[agent]
            out.append(
                _insight(
                    "isolated",
                    agent,
                    view.tick,
                    f"{node.name} is alone",
                    agents=[agent],
                    evidence=_ev(node.recent),
                    score=float(view.tick - max(node.last_tick, 0)) + 1,
                )
            )
    return out


def hub(view: View) -> list[Insight]:
    """The agent most between others, when it also has far more ties than most."""
    if view.metrics is None or not view.metrics["nodes"]:
        return []
    nodes = view.metrics["nodes"]
    mean_degree = sum(m["degree"] for m in nodes.values()) / len(nodes)
    agent, m = max(nodes.items(), key=lambda kv: (kv[1]["betweenness"], kv[1]["strength"], kv[0]))
    if m["betweenness"] <= 0 or m["degree"] < max(HUB_MIN_DEGREE, HUB_DEGREE_FACTOR * mean_degree):
        return []
    ties = sorted(
        (e for e in view.edges.values() if agent in (e.a, e.b)),
        key=lambda e: -e.strength(view.params, view.tick),
    )[:EVIDENCE_SHOWN]
    return [
        _insight(
            "hub",
            agent,
            view.tick,
            f"{_name(view, agent)} is the hub of the town",
            agents=[agent],
            evidence=_ev(e.evidence[-1] for e in ties if e.evidence),
            score=m["betweenness"],
            degree=m["degree"],
            betweenness=m["betweenness"],
        )
    ]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def factions(view: View) -> list[Insight]:
    """Communities that formed (no earlier match) or split (now in several) since last run."""
    if view.metrics is None:
        return []
    now = [set(c) for c in view.metrics["communities"] if len(c) >= FACTION_MIN_SIZE]
    before = [set(c) for c in (view.previous_communities or [])]
    formed = [c for c in now if not any(_jaccard(c, p) >= FACTION_MATCH for p in before)]
    # Which current community each agent is in: a split is an earlier community whose
    # members now sit in two or more of them (two members each at least).
    community_of = {v: i for i, c in enumerate(view.metrics["communities"]) for v in c}
    splits: list[tuple[set[str], list[set[str]]]] = []
    for p in before:
        if len(p) < FACTION_MIN_SIZE + 1:
            continue
        by_community: dict[int, set[str]] = {}
        for v in p:
            if v in community_of:
                by_community.setdefault(community_of[v], set()).add(v)
        parts = [by_community[i] for i in sorted(by_community) if len(by_community[i]) >= 2]
        if len(parts) >= 2:
            splits.append((p, parts))
    evidence = _inner_evidence(view, [*formed, *(p for p, _ in splits)])
    out = []
    for c, ev in zip(formed, evidence, strict=False):
        members = sorted(c)
        out.append(
            _insight(
                "faction_formed",
                ",".join(members),
                view.tick,
                f"A faction formed around {', '.join(_name(view, a) for a in members[:4])}",
                agents=members,
                evidence=ev,
                score=float(len(c)),
            )
        )
    for (p, parts), ev in zip(splits, evidence[len(formed) :], strict=True):
        members = sorted(p)
        out.append(
            _insight(
                "faction_split",
                ",".join(members),
                view.tick,
                f"A faction split into {len(parts)}: "
                + " / ".join(", ".join(_name(view, a) for a in sorted(part)[:3]) for part in parts),
                agents=members,
                groups=[sorted(part) for part in parts],
                evidence=ev,
                score=float(len(parts)),
            )
        )
    return out


def _inner_evidence(view: View, groups: list[set[str]]) -> list[list[dict[str, Any]]]:
    """For each group, the latest evidence of the ties inside it: one pass over the ties for
    all groups (a pass per group cost seconds at 10,000 agents)."""
    if not groups:
        return []
    member_of: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        for v in g:
            member_of.setdefault(v, []).append(i)
    items: list[list[Evidence]] = [[] for _ in groups]
    for e in view.edges.values():
        ga = member_of.get(e.a)
        if ga is None or not e.evidence:
            continue
        gb = member_of.get(e.b)
        if gb is None:
            continue
        for i in ga:
            if i in gb:
                items[i].extend(e.evidence[-2:])
    out = []
    for found in items:
        found.sort(key=lambda ev: ev[1])
        out.append(_ev(found))
    return out


def contested_objects(view: View) -> list[Insight]:
    """Objects several agents competed for: extra same-tick users plus rejected attempts."""
    out = []
    ids = set(view.objects) | {k for k in view.rejections if ":" not in k and "|" not in k}
    for obj in sorted(ids):
        o = view.objects.get(obj)
        rejected = view.rejections.get(obj, 0)
        contention = (o.contention if o else 0) + rejected
        contenders = set(o.contenders if o else ())
        contenders |= {k.split("|", 1)[1] for k in view.rejections if k.startswith(f"{obj}|")}
        # Whoever got the object in a tick someone was turned away competed for it too.
        lost = {r[1] for r in view.rejection_evidence if r[3] == obj}
        contenders |= {use[2] for use in (o.log if o else []) if use[1] in lost}
        if contention >= CONTESTED_MIN_EVENTS and len(contenders) >= 2:
            ev = list(o.contention_evidence if o else [])
            ev += [[r[0], r[1], "rejected"] for r in view.rejection_evidence if r[3] == obj]
            ev.sort(key=lambda e: e[1])
            out.append(
                _insight(
                    "contested_object",
                    obj,
                    max((e[1] for e in ev), default=view.tick),
                    f"{obj} is contested by {len(contenders)} agents",
                    agents=sorted(contenders),
                    objects=[obj],
                    evidence=_ev(ev),
                    score=float(contention),
                    contention=contention,
                    rejections=rejected,
                )
            )
    return out


def hotspots(view: View) -> list[Insight]:
    """Places with over twice the mean place's agent-ticks (and 2+ agents) in the last window."""
    w = view.params.window_ticks
    last = view.tick // w - 1  # the last window whose ticks have all closed
    if last < 0 or not view.places:
        return []
    totals = {}
    for pid, p in view.places.items():
        q = dataclasses.replace(p, windows=dict(p.windows))
        q.advance(view.params, view.tick)
        totals[pid] = (q.windows.get(str(last), 0), q.windows.get(str(last - 1), 0), q)
    mean = sum(v[0] for v in totals.values()) / len(totals)
    out = []
    for pid, (value, previous, q) in sorted(totals.items()):
        if len(totals) >= 2 and value >= 2 * w and value > HOTSPOT_FACTOR * mean:
            trend = (
                "rising"
                if value > previous * 1.5
                else "falling"
                if value < previous / 1.5
                else "steady"
            )
            out.append(
                _insight(
                    "hotspot",
                    pid,
                    (last + 1) * w,
                    f"{pid} is a hotspot ({trend})",
                    places=[pid],
                    evidence=_ev([x[0], x[1], "arrival"] for x in q.log),
                    score=value / mean if mean else 0.0,
                    agent_ticks=value,
                    previous=previous,
                    window=[last * w + 1, (last + 1) * w],
                    trend=trend,
                )
            )
    return out


DETECTORS = (friendships, fallings_out, isolated, hub, factions, contested_objects, hotspots)


def detect(view: View) -> list[Insight]:
    """Every detector's insights, the most recent and strongest first."""
    found = [i for detector in DETECTORS for i in detector(view)]
    found.sort(key=lambda i: (-i["tick"], -i["score"], i["id"]))
    return found
