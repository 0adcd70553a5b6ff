"""Dialogue lines for the rule brain: templates keyed by how the speaker sees
the listener and by what there is to talk about (pure, seeded).

A line draws on the speaker's persona (the things it talks about), its own
memories and reflections, its goals and the place, so two runs with the same
seed say the same things and different agents sound different.
"""

from __future__ import annotations

import random
import re

_FILLER = frozenset(
    "only same other rest best better first last next most whole world's village's time same "
    "they them their there this that these those what which when where while "
    "courage keeper boy's girl way day night truth others".split()
)

OPENERS: dict[str, list[str]] = {
    "friend": [
        "{name}! Good to see you.",
        "Hey {name}.",
        "{name}, just the person I hoped to see.",
    ],
    "family": ["{name}, have you eaten?", "There you are, {name}.", "{name}, come sit with me."],
    "partner": ["{name}, I missed you today.", "Hey, {name}.", "{name}, walk with me a bit?"],
    "secret": ["{name}... not here, people are watching.", "{name}, quickly.", "Psst, {name}."],
    "acquaintance": ["Hello {name}.", "Oh, hi {name}.", "{name}, nice to run into you."],
    "colleague": ["{name}, got a minute?", "Morning, {name}.", "{name}, about our work..."],
    "stranger": [
        "Hello there, I'm {me}.",
        "Hi, I don't think we've met. I'm {me}.",
        "Excuse me, I'm {me}.",
    ],
    "rival": ["{name}.", "Well, if it isn't {name}.", "{name}, a word."],
    "enemy": ["{name}. Stay out of my way.", "You again, {name}?", "{name}, keep walking."],
}

TOPIC_LINES: dict[str, list[str]] = {
    "interest": [
        "I've been thinking about {topic} all day.",
        "What do you make of {topic}?",
        "Honestly, {topic} is what keeps me going.",
        "Have you heard anything new about {topic}?",
    ],
    "memory": [
        "You know, {memory}",
        "I can't stop thinking about it. {memory}",
        "Did you hear? {memory}",
    ],
    "place": [
        "{place} is lively today.",
        "I like it here at {place}.",
        "{place} feels different lately.",
    ],
    "goal": [
        "I really want to {goal}.",
        "Could you help me? I'm trying to {goal}.",
        "One day I'll {goal}.",
    ],
    "talk_about": [
        "Let me tell you about {topic}.",
        "Have you heard the news about {topic}?",
        "Everyone should care about {topic}.",
    ],
    "secret": ["Can you keep a secret? {secret}", "Between us: {secret}"],
    "reply": [
        "You're right about that.",
        "Ha, that's so true.",
        "I hadn't thought of it that way.",
        "Tell me more.",
        "Same here.",
        "Hm. Maybe.",
    ],
}

HOSTILE: list[str] = [
    "You always take what isn't yours.",
    "Stay away from what's mine.",
    "I haven't forgotten what you did.",
    "Not you again, not today.",
]

HOSTILE_MARKERS = (
    "stay away",
    "haven't forgotten",
    "not you again",
    "always take",
    "out of my way",
    "keep walking",
)


def interests(persona: str, limit: int = 5, goals: list[str] | None = None) -> list[str]:
    """Things it talks about: the nouns its goals, then its persona, name with "the"."""
    found: list[str] = []
    text = " ".join([*(goals or []), persona])
    for word in re.findall(r"\bthe ([a-z][a-z']{3,})\b", text):
        topic = f"the {word}"
        if word in _FILLER or "'" in word or word.endswith(("ly", "ing")):
            continue
        if topic not in found:
            found.append(topic)
    return found[:limit]


def tone(text: str) -> str:
    """'hostile' or 'friendly': how a line lands on its listener."""
    low = text.lower()
    return "hostile" if any(m in low for m in HOSTILE_MARKERS) else "friendly"


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else name


def line(
    rng: random.Random,
    *,
    me: str,
    name: str,
    relation: str,
    persona: str,
    place: str,
    memory: str | None = None,
    goal: str | None = None,
    topic: str | None = None,
    secret: str | None = None,
    replying: bool = False,
    hostile: bool = False,
    topics: list[str] | None = None,
) -> str:
    """One line from ``me`` to ``name`` (a listener seen as ``relation``).

    ``topics``: the speaker's interests, when already taken from its persona.
    """
    familiar = relation not in ("stranger", "acquaintance", "rival", "enemy")
    who = first_name(name) if familiar else name
    opener = rng.choice(OPENERS.get(relation, OPENERS["acquaintance"])).format(name=who, me=me)
    if hostile:
        return f"{opener} {rng.choice(HOSTILE)}"
    kinds: list[tuple[str, dict[str, str]]] = []
    if topic:
        kinds.append(("talk_about", {"topic": topic}))
    if replying:
        kinds.append(("reply", {}))
    if goal:
        kinds.append(("goal", {"goal": _lower_first(goal.rstrip("."))}))
    if memory:
        kinds.append(("memory", {"memory": memory}))
    for thing in (interests(persona) if topics is None else topics)[:3]:
        kinds.append(("interest", {"topic": thing}))
    if secret and relation in ("friend", "partner", "family", "secret"):
        kinds.append(("secret", {"secret": secret}))
    kinds.append(("place", {"place": place}))
    # The first option (a stated topic, a reply) is the likeliest; the rest add variety.
    weights = [3.0 if i == 0 else 1.0 for i in range(len(kinds))]
    kind, values = rng.choices(kinds, weights=weights)[0]
    body = rng.choice(TOPIC_LINES[kind]).format(**values)
    return f"{opener} {body[:1].upper()}{body[1:]}"[:1000]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
