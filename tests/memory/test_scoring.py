"""Pure scoring: hand-computed numbers, no server."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrai.memory.model import Memory
from scrai.memory.scoring import (
    Weights,
    event_importance,
    min_max,
    rank,
    relevances,
    retention_score,
    tokenize,
)


def mem(mid: str, tick: int, importance: float, words: list[str]) -> Memory:
    return Memory(mid, "alice", tick, "observation", mid, importance, words)


M1 = mem("m1", 10, 2, ["bakery", "bread"])
M2 = mem("m2", 5, 8, ["festival", "bob"])
M3 = mem("m3", 0, 5, ["festival", "park"])


def test_tokenize_folds_case_plurals_and_stopwords():
    assert tokenize("Are you coming to the Festivals, Bob?") == ["coming", "festival", "bob"]
    assert tokenize("meet at cell-1-2") == ["meet", "cell-1-2"]


def test_min_max_flat_is_neutral():
    assert min_max([3.0, 3.0]) == [0.5, 0.5]
    assert min_max([1.0, 2.0, 3.0]) == [0.0, 0.5, 1.0]


def test_relevance_is_idf_weighted_cosine():
    idf_festival = math.log(4 / 3) + 1  # 2 of 3 memories mention it
    idf_rare = math.log(4 / 2) + 1  # 1 of 3
    expected = idf_festival / math.sqrt(idf_festival**2 + idf_rare**2)
    assert relevances([M1, M2, M3], ["festival"]) == pytest.approx([0.0, expected, expected])
    assert expected == pytest.approx(0.60534, abs=1e-5)


def test_rank_with_hand_computed_scores():
    # now=10, decay 0.5: raw recency 1, 2**-5, 2**-10 -> normalised 1, 31/1023, 0.
    # importance .2 .8 .5 -> 0, 1, .5.  relevance to "festival" 0, .605, .605 -> 0, 1, 1.
    ranked = rank([M1, M2, M3], ["festival"], 10, decay=0.5, weights=Weights())
    assert [s.memory.id for s in ranked] == ["m2", "m3", "m1"]
    by_id = {s.memory.id: s for s in ranked}
    assert by_id["m2"].recency == pytest.approx(31 / 1023)
    assert by_id["m2"].score == pytest.approx(31 / 1023 + 1 + 1)
    assert by_id["m3"].score == pytest.approx(0 + 0.5 + 1)
    assert by_id["m1"].score == pytest.approx(1.0)

    # Weighting recency three times over puts the newest first.
    ranked = rank([M1, M2, M3], ["festival"], 10, decay=0.5, weights=Weights(recency=3.0), k=2)
    assert [(s.memory.id, round(s.score, 4)) for s in ranked] == [
        ("m1", 3.0),
        ("m2", round(3 * 31 / 1023 + 2, 4)),
    ]


def test_ties_are_broken_by_content_not_by_run_specific_ids():
    a = Memory("zzz", "alice", 3, "observation", "I saw Ivo talking.", 3, ["ivo"])
    b = Memory("aaa", "alice", 3, "observation", "I saw Clara talking.", 3, ["clara"])
    assert [s.memory.text for s in rank([a, b], ["x"], 5, decay=0.9, weights=Weights())] == [
        "I saw Clara talking.",
        "I saw Ivo talking.",
    ]
    b2 = Memory("zzzz", "alice", 3, "observation", "I saw Clara talking.", 3, ["clara"])
    a2 = Memory("0000", "alice", 3, "observation", "I saw Ivo talking.", 3, ["ivo"])
    assert [s.memory.text for s in rank([a2, b2], ["x"], 5, decay=0.9, weights=Weights())] == [
        "I saw Clara talking.",
        "I saw Ivo talking.",
    ]


def test_importance_heuristics_order():
    speech_to_friend = event_importance("speak", relationship="friend")
    contested = event_importance("interact", contested=True)
    use = event_importance("interact")
    move = event_importance("move")
    idle = event_importance("idle")
    assert speech_to_friend > contested > use > move > idle == 1
    # Being spoken to matters more than overhearing, which matters more than seeing lips move.
    to_me = event_importance("speak", role="observer", addressed_to_me=True)
    overheard = event_importance("speak", role="observer")
    unheard = event_importance("speak", role="observer", heard=False)
    assert to_me > overheard > unheard
    # A stranger crossing elsewhere is below notice; arriving where I am is not.
    assert event_importance("move", role="observer", near=False) == 1
    assert event_importance("move", role="observer") == 2
    # An enemy's words weigh more than a stranger's; everything stays within 1..10.
    enemy = event_importance("speak", role="observer", addressed_to_me=True, relationship="enemy")
    assert enemy == 10
    assert event_importance("speak", relationship="rival") > event_importance("speak")


def test_retention_prefers_important_then_recent():
    decay = 0.99
    head_start = math.log(10) / -math.log(decay)  # ~229 ticks
    assert retention_score(0, 10, decay) == pytest.approx(head_start)
    assert retention_score(0, 10, decay) > retention_score(200, 1, decay)
    assert retention_score(300, 1, decay) > retention_score(0, 10, decay)
    # The static order agrees with importance * decay**age at any later time.
    now = 500
    a, b = (100, 6.0), (150, 3.0)
    live = [imp * decay ** (now - t) for t, imp in (a, b)]
    static = [retention_score(t, imp, decay) for t, imp in (a, b)]
    assert (live[0] > live[1]) == (static[0] > static[1])


WORDS = ["festival", "bread", "oven", "bob", "alice", "square", "rain", "secret"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 50),
            st.integers(1, 10),
            st.lists(st.sampled_from(WORDS), max_size=4),
            st.sampled_from(["a", "b", "c"]),
        ),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.sampled_from(WORDS), max_size=3),
    st.randoms(use_true_random=False),
)
def test_rank_is_bounded_and_independent_of_storage_order(rows, query, rnd):
    memories = [
        Memory(f"id{i}", "alice", t, "observation", f"{text}{i % 3}", imp, sorted(set(words)))
        for i, (t, imp, words, text) in enumerate(rows)
    ]
    w = Weights(recency=1.0, importance=2.0, relevance=0.5)
    ranked = rank(memories, query, 60, decay=0.95, weights=w)
    shuffled = memories[:]
    rnd.shuffle(shuffled)
    again = rank(shuffled, query, 60, decay=0.95, weights=w)
    assert [s.memory.id for s in ranked] == [s.memory.id for s in again]
    assert all(-1e-9 <= s.score <= 3.5 + 1e-9 for s in ranked)
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)
    assert len(rank(memories, query, 60, decay=0.95, weights=w, k=3)) == min(3, len(memories))
