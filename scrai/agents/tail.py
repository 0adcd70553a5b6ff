"""Who among a worker's agents a committed event concerns (pure).

A worker reads the committed stream once and hands each event only to the
agents it concerns: the actor; for a line, its addressee (or everyone in
earshot when it has none); for a move or a use, the onlookers who have a tie to
the actor. A crowd's onlookers are many, and a loop over all of them for every
event would cost more than the agents' decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scrai.agents.agent import CognitiveAgent
from scrai.agents.view import Happening


def watchers_of(agents: Iterable[CognitiveAgent]) -> dict[str, list[str]]:
    """Agent id -> ids of the given agents with a tie (in the scenario) to it."""
    out: dict[str, list[str]] = {}
    for agent in agents:
        for other in agent.kinds:
            out.setdefault(other, []).append(agent.id)
    return out


def dispatch(
    h: Happening, agents: Mapping[str, CognitiveAgent], watchers: Mapping[str, list[str]]
) -> None:
    """Hand ``h`` to the hosted ``agents`` it concerns."""
    mine = agents.get(h.actor)
    if mine is not None:
        mine.absorb(h)
    kind = h.action.get("kind")
    if kind == "idle":
        return  # nothing for onlookers to take in
    if kind == "speak":
        to = h.action.get("to")
        for agent_id in (to,) if to else h.observers:
            agent = agents.get(agent_id)
            if agent is not None and agent_id != h.actor:
                agent.absorb(h)
        return
    ties = watchers.get(h.actor)
    if ties:  # moves and uses matter to those who know the actor, if they saw it
        seen_by = set(h.observers)
        for agent_id in ties:
            if agent_id in seen_by:
                agents[agent_id].absorb(h)
