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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

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
    return _relevances([m.keywords for m in memories], query)


def _relevances(docs: Sequence[Sequence[str]], query: Sequence[str]) -> list[float]:
    """:func:`relevances` over keyword lists (each a memory's sorted, unique keywords)."""
    q = {t for part in query for t in tokenize(part)}
    n = len(docs)
    if not q or not n:
        return [0.0] * n
    # Most memories share no word with the query: they need neither norm nor weights.
    hits = [(i, common) for i, doc in enumerate(docs) if (common := q.intersection(doc))]
    out = [0.0] * n
    if not hits:
        return out
    df = Counter(chain.from_iterable(docs))
    log_n = math.log(n + 1)
    w2: dict[str, float] = {}

    def weight(t: str) -> float:  # squared IDF, once per token (recall runs every tick)
        w = w2.get(t)
        if w is None:
            w = w2[t] = (log_n - math.log(df.get(t, 0) + 1) + 1.0) ** 2
        return w

    q_norm = math.sqrt(sum(weight(t) for t in q))
    for i, common in hits:
        dot = sum(weight(t) for t in common)
        out[i] = dot / (q_norm * math.sqrt(sum(weight(t) for t in set(docs[i]))))
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
    best = rank_parts(
        [m.tick for m in memories],
        [m.importance for m in memories],
        [m.keywords for m in memories],
        [m.text for m in memories],
        [m.id for m in memories],
        query,
        now_tick,
        decay=decay,
        weights=weights,
        k=k,
    )
    return [Scored(memories[n], score, r, i, v) for score, n, r, i, v in best]


def rank_parts(
    ticks: Sequence[int],
    importances: Sequence[float],
    docs: Sequence[Sequence[str]],
    texts: Sequence[str],
    ids: Sequence[str],
    query: Sequence[str],
    now_tick: int,
    *,
    decay: float,
    weights: Weights,
    k: int | None = None,
) -> list[tuple[float, int, float, float, float]]:
    """:func:`rank` over the memories' fields: (score, index, recency, importance,
    relevance) of the best, best first. Recall (:meth:`scrai.memory.store.MemoryStore.rank`,
    for the store and the agent workers alike) ranks hundreds of stored entries to keep a
    handful: it need not build a Memory for each."""
    if not ticks:
        return []
    rec = min_max([decay ** max(0, now_tick - t) for t in ticks])
    imp = min_max([i / 10 for i in importances])
    rel = min_max(_relevances(docs, query))
    wr, wi, wv = weights.recency, weights.importance, weights.relevance
    keyed = [
        (-(wr * r + wi * i + wv * v), -t, text, mid, n)
        for n, (t, r, i, v, text, mid) in enumerate(
            zip(ticks, rec, imp, rel, texts, ids, strict=True)
        )
    ]
    best = sorted(keyed) if k is None else heapq.nsmallest(k, keyed)
    return [(-neg, n, rec[n], imp[n], rel[n]) for neg, _, _, _, n in best]
