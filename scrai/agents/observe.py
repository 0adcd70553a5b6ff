"""How an agent takes in one committed event: needs, ties, goals and memories (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrai.agents import dialogue, social
from scrai.agents import needs as needs_mod
from scrai.agents.view import Happening

if TYPE_CHECKING:
    from scrai.agents.agent import CognitiveAgent

VISITED_KEPT = 8


def absorb_happening(agent: CognitiveAgent, h: Happening) -> bool:
    """Take ``h`` in; returns whether it is worth perceiving (its own acts are not)."""
    if h.actor == agent.id:
        _own(agent, h)
        return False
    return _other(agent, h)


def _own(agent: CognitiveAgent, h: Happening) -> None:
    m, a, kind = agent.mind, h.action, h.action.get("kind")
    names = agent.index.names
    if kind == "move" and h.place:
        if h.place not in m.visited[-6:]:
            needs_mod.satisfy(m.needs, "curiosity", 0.15)
        m.place = h.place
        m.visited.append(h.place)
        del m.visited[:-VISITED_KEPT]
        needs_mod.satisfy(m.needs, "rest", -0.01)
    elif kind == "speak":
        to, text = a.get("to"), str(a.get("text", ""))
        hostile = dialogue.tone(text) == "hostile"
        needs_mod.satisfy(m.needs, "social", 0.25 if to else 0.1)
        if to:
            social.conversation(m.affinity, to, agent.spec.traits.agreeableness, hostile)
            agent.touched.add(to)
            m.interactions[to] = m.interactions.get(to, 0) + 1
            m.remember(
                h.tick, "conversation", f"I told {names.get(to, to)}: {text}"[:240], 3.0, [to]
            )
        for goal in list(m.goals):
            if goal["status"] != "active":
                continue
            if goal["kind"] == "meet" and to and goal.get("target") == to:
                agent.reach(goal, h.tick)
            elif goal["kind"] == "talk_about":
                topic = str(goal.get("target") or goal["description"]).lower()
                if topic and topic in text.lower():
                    agent.reach(goal, h.tick)
    elif kind == "interact":
        oid = a.get("object_id", "")
        obj = agent.index.objects.get(oid)
        if obj:
            for need in obj.satisfies:
                needs_mod.satisfy(m.needs, need, 0.4)
            others = [u for u in h.objects.get(oid, {}).get("users", []) if u != agent.id]
            for other in others:
                if (
                    agent.kinds.get(other) in social.HOSTILE_KINDS
                    or m.affinity.get(other, 0) < -0.3
                ):
                    social.contest(m.affinity, other, agent.kinds.get(other))
                    agent.touched.add(other)
            label = obj.name or obj.kind
            m.remember(h.tick, "action", f"I used the {label}", 2.0, [oid])
        for goal in list(m.goals):
            if goal["status"] == "active" and goal["kind"] == "use" and goal.get("target") == oid:
                agent.reach(goal, h.tick)
    elif kind == "idle":
        at_home = m.place == agent.spec.place
        needs_mod.satisfy(m.needs, "rest", 0.12 if at_home else 0.06)


def _other(agent: CognitiveAgent, h: Happening) -> bool:
    m, a, kind = agent.mind, h.action, h.action.get("kind")
    other = h.actor
    relation = agent.kinds.get(other)
    known = relation is not None or other in m.affinity
    if kind != "speak" and not known:
        return False  # a stranger going about their business: nothing to take in
    if h.place and known:
        m.see(other, h.place)
    name = agent.index.names.get(other, other)
    close = relation is not None or abs(m.affinity.get(other, 0.0)) > 0.3
    if kind == "speak":
        return _heard(agent, h, name, close)
    if kind == "move" and h.place == m.place and close:
        where = agent.index.places[h.place].name
        m.remember(h.tick, "observation", f"{name} came to {where}", 2.0, [other])
    elif kind == "interact" and (
        relation in social.HOSTILE_KINDS or m.affinity.get(other, 0) < -0.3
    ):
        obj = agent.index.objects.get(a.get("object_id", ""))
        if obj:
            m.remember(
                h.tick, "observation", f"{name} used the {obj.name or obj.kind}", 2.0, [other]
            )
    return True


def _heard(agent: CognitiveAgent, h: Happening, name: str, close: bool) -> bool:
    m, other = agent.mind, h.actor
    to, text = h.action.get("to"), str(h.action.get("text", ""))
    if to != agent.id:
        here = m.place or agent.spec.place
        if (
            to is not None
            or h.place is None
            or agent.index.distance(here, h.place) > agent.index.hearing_range
        ):
            return False  # said to someone else, or out of earshot
    hostile = dialogue.tone(text) == "hostile"
    needs_mod.satisfy(m.needs, "social", 0.12 if to else 0.05)
    if to == agent.id:
        social.conversation(m.affinity, other, agent.spec.traits.agreeableness, hostile)
        agent.touched.add(other)
        m.interactions[other] = m.interactions.get(other, 0) + 1
        for goal in list(m.goals):
            if (
                goal["status"] == "active"
                and goal["kind"] == "meet"
                and goal.get("target") == other
            ):
                agent.reach(goal, h.tick)
    m.remember(
        h.tick, "conversation", f"{name} said to me: {text}"[:240], 5.0 if close else 4.0, [other]
    )
    return True
