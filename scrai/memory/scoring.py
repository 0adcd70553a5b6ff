"""Pure memory maths: tokens, importance of events, retention and recall scores.

Recall follows Generative Agents: each candidate gets a recency (exponential
decay per tick), an importance (1..10) and a relevance to the query (cosine of
IDF-weighted token sets, computed over the agent's own memories: no model, no
network). Each component is min-max normalised over the candidates, then the
three are summed with the scenario's weights.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scrai.memory.model import Memory

_TOKEN = re.compile(r"[a-z0-9]+(?:[_.-][a-z0-9]+)*")
STOPWORDS = frozenset(
    """a about after again all am an and any are as at be been before being but by can could
    did do does doing for from had has have having he her here hers him his how i if in into is
    it its just me more most my no nor not now of off on once only or other our out over own
    same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours let lets ok okay yes hey hi hello oh well really
    """.split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case content tokens; stopwords dropped; plural ``-s`` folded (festivals: festival)."""
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        if len(tok) < 2 or tok in STOPWORDS:
            continue
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss") and tok.isalpha():
            tok = tok[:-1]
        out.append(tok)
    return out


def keywords(*parts: str | None, ids: Iterable[str | None] = ()) -> list[str]:
    """Sorted, unique keywords from free text and entity ids (ids kept whole, lower-cased)."""
    words = {tok for part in parts if part for tok in tokenize(part)}
    words.update(i.lower() for i in ids if i)
    return sorted(words)


# -- importance -------------------------------------------------------------------------

BASE_IMPORTANCE = {"speak": 6, "interact": 4, "move": 3, "idle": 1}
# Strong ties (love, family, feuds, secrets) make what happens between two agents matter more.
RELATIONSHIP_BONUS = {
    "enemy": 3,
    "rival": 2,
    "partner": 2,
    "family": 2,
    "secret": 2,
    "friend": 1,
    "colleague": 0,
    "acquaintance": 0,
}


def event_importance(
    action_kind: str,
    *,
    role: str = "actor",
    addressed_to_me: bool = False,
    heard: bool = True,
    contested: bool = False,
    relationship: str | None = None,
    near: bool = True,
) -> int:
    """Importance 1..10 of an event for one agent.

    Speech to or with someone > use of a contested object > use > moves > idle.
    ``role`` is ``actor`` (it did it) or ``observer`` (it saw or heard it);
    ``relationship`` is the kind of tie between the agent and the other party;
    ``near`` is False when an observer saw it happen away from its own place.
    """
    score = BASE_IMPORTANCE.get(action_kind, 1)
    if action_kind == "interact" and contested:
        score += 2
    if role == "observer":
        if action_kind == "speak":
            score += 2 if addressed_to_me else (0 if heard else -3)
        else:
            score -= 1 if near else 2  # seeing it done matters less than doing it
    if relationship is not None and action_kind != "idle":
        score += RELATIONSHIP_BONUS.get(relationship, 0)
    return max(1, min(10, score))


def retention_score(tick: int, importance: float, decay: float) -> float:
    """A time-independent keep-order: ``importance * decay**age`` ranks like this value.

    log(importance * decay**(now - tick)) = tick * log(1/decay) + log(importance) + const,
    so dividing by log(1/decay) gives "tick plus a head start for importance", which
    a sorted set can hold once and trim by rank forever after.
    """
    if decay >= 1.0:
        return importance * 1e9 + tick
    return tick + math.log(importance) / -math.log(decay)


# -- recall -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Weights:
    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0


@dataclass(frozen=True, slots=True)
class Scored:
    memory: Memory
    score: float
    recency: float
    importance: float
    relevance: float


def min_max(values: Sequence[float]) -> list[float]:
    """Scale to 0..1; all equal gives 0.5 each (no information, no preference)."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return [0.5] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


def relevances(memories: Sequence[Memory], query: Sequence[str]) -> list[float]:
    """Cosine between the query and each memory's keywords, tokens weighted by IDF.

    The IDF is computed over ``memories`` themselves: a word every memory has tells
    nothing, a rare one (a name, a topic) tells a lot.
    """
    q = {t for part in query for t in tokenize(part)}
    if not q or not memories:
        return [0.0] * len(memories)
    docs = [set(m.keywords) for m in memories]
    n = len(docs)
    df: dict[str, int] = {}
    for doc in docs:
        for t in doc:
            df[t] = df.get(t, 0) + 1
    # Squared IDF weights, computed once per token (recall runs every tick for every agent).
    w2 = {t: (math.log((n + 1) / (c + 1)) + 1.0) ** 2 for t, c in df.items()}
    unseen = (math.log(n + 1) + 1.0) ** 2
    q_norm = math.sqrt(sum(w2.get(t, unseen) for t in q))
    out = []
    for doc in docs:
        common = q & doc
        if not common:  # most memories: no need for their norm
            out.append(0.0)
            continue
        dot = sum(w2[t] for t in common)
        out.append(dot / (q_norm * math.sqrt(sum(w2[t] for t in doc))))
    return out


def rank(
    memories: Sequence[Memory],
    query: Sequence[str],
    now_tick: int,
    *,
    decay: float,
    weights: Weights,
    k: int | None = None,
) -> list[Scored]:
    """Memories by weighted score, best first.

    Ties go to the newer, then by text: never by id, which derives from event ids that
    embed the run id, so that a replay of the same run recalls in the same order.
    """
    if not memories:
        return []
    rec = min_max([decay ** max(0, now_tick - m.tick) for m in memories])
    imp = min_max([m.importance / 10 for m in memories])
    rel = min_max(relevances(memories, query))
    wr, wi, wv = weights.recency, weights.importance, weights.relevance
    keyed = [
        (-(wr * r + wi * i + wv * v), -m.tick, m.text, m.id, n)
        for n, (m, r, i, v) in enumerate(zip(memories, rec, imp, rel, strict=True))
    ]
    # Only the k best become Scored records (recall asks for a handful out of hundreds).
    best = sorted(keyed) if k is None else heapq.nsmallest(k, keyed)
    return [Scored(memories[n], -neg, rec[n], imp[n], rel[n]) for neg, _, _, _, n in best]
