"""Reflection: when enough has happened, the agent draws conclusions (pure).

Triggered when the importance accumulated since the last reflection passes the
scenario's ``memory.reflection_threshold``. Reflections become memories (via the
memory store) and stay in the agent's own recent experience, so its dialogue can
draw on them.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from scrai.agents import social

if TYPE_CHECKING:
    from scrai.agents.agent import CognitiveAgent


def reflections(agent: CognitiveAgent, tick: int) -> list[dict[str, Any]]:
    """Conclusions from recent experience; resets the importance accumulator."""
    m, names = agent.mind, agent.index.names
    found: list[tuple[str, float, list[str]]] = []
    if m.interactions:
        other, count = max(m.interactions.items(), key=lambda kv: (kv[1], kv[0]))
        aff, name = m.affinity.get(other, 0.0), names.get(other, other)
        if aff >= 0.45:
            found.append((f"{name} and I have grown close; I can count on {name}.", 7.0, [other]))
        elif aff <= -0.3:
            found.append((f"Every time I deal with {name} it ends badly.", 7.0, [other]))
        else:
            found.append(
                (f"I have been talking with {name} a lot lately ({count} times).", 5.0, [other])
            )
    faded = [
        o for o, base in agent.base.items() if base > 0.2 and m.affinity.get(o, 0.0) < base * 0.6
    ]
    if faded:
        name = names.get(faded[0], faded[0])
        found.append((f"I have drifted apart from {name}.", 6.0, [faded[0]]))
    since = m.reflections[-1]["tick"] if m.reflections else -1
    done = [g for g in m.goals if g["status"] == "achieved" and g.get("achieved_at", -1) > since]
    todo = [g for g in m.goals if g["status"] != "achieved"]
    if done:
        found.append(
            (f"I am proud that I managed to {as_clause(done[0]['description'])}.", 6.0, [])
        )
    elif todo:
        found.append((f"I still have not managed to {as_clause(todo[0]['description'])}.", 5.0, []))
    if m.visited:
        place, _ = Counter(m.visited).most_common(1)[0]
        found.append(
            (f"I spend much of my time at {agent.index.places[place].name}.", 4.0, [place])
        )
    # A conclusion already drawn is not news: only new ones become memories.
    known = {r["text"] for r in m.reflections}
    found = [f for f in found if f[0] not in known]
    made = []
    for i, (text, importance, keywords) in enumerate(found[:3]):
        memory = {
            "id": f"{agent.id}:reflection:{tick}:{i}",
            "agent_id": agent.id,
            "tick": tick,
            "kind": "reflection",
            "text": text,
            "importance": importance,
            "keywords": [k for k in keywords if k],
            "event_id": None,
        }
        made.append(memory)
        m.reflections.append({"tick": tick, "text": text})
    del m.reflections[:-10]
    m.importance = 0.0
    for memory in made[:1]:
        m.episodes.append(
            {
                "tick": tick,
                "kind": "reflection",
                "text": memory["text"],
                "importance": memory["importance"],
                "keywords": memory["keywords"],
            }
        )
    m.interactions = {
        k: v
        for k, v in m.interactions.items()
        if social.label(m.affinity.get(k, 0), None) != "stranger"
    }
    return made


def as_clause(description: str) -> str:
    """A goal's description as the end of a sentence ("Meet Finn..." -> "meet Finn...")."""
    text = description.rstrip(".")
    return text[:1].lower() + text[1:]
