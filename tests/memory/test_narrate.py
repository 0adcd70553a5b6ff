"""Pure narration: periods and summaries from facts, no server."""

from __future__ import annotations

from scrai.memory.narrate import Cast, describe_period, past, summarize
from tests.scenarios import village


def test_periods_name_quarters_of_the_day():
    assert describe_period(0, 23, 96) == "the night of day 1"
    assert describe_period(24, 47, 96) == "the morning of day 1"
    assert describe_period(48 + 96, 60 + 96, 96) == "the afternoon of day 2"
    assert describe_period(90, 100, 96) == "ticks 90-100"


def test_verbs_in_the_past():
    assert [past(v) for v in ("use", "drink", "open", "bake")] == [
        "used",
        "drank",
        "opened",
        "baked",
    ]


def fact(t: int, kind: str, role: str, place: str, with_: list[str], **extra: object) -> dict:
    return {
        "e": f"e{t}{role}",
        "t": t,
        "a": kind,
        "r": role,
        "p": place,
        "i": 4,
        "w": with_,
        **extra,
    }


def test_summary_of_facts():
    cast = Cast(village())
    facts = [
        fact(50, "interact", "did", "bakery", ["bob"], o="oven"),
        fact(51, "interact", "did", "bakery", ["bob"], o="oven"),
        fact(52, "speak", "heard", "bakery", ["bob"], k=["bread", "festival", "bob"]),
        fact(53, "move", "saw", "bakery", ["carol"]),  # seen afar: not company
        fact(53, "move", "did", "square", []),
    ]
    summary = summarize(cast, "alice", facts, 53)
    assert summary is not None and summary.kind == "summary" and summary.tick == 53
    assert summary.text == (
        "Spent the afternoon of day 1 at the Bakery and the Square with Bob; "
        "talked about festival once; used the oven 2 times."
    )
    assert {"bakery", "bob", "oven", "festival"} <= set(summary.keywords)
    assert 3 <= summary.importance <= 10
    # The same facts in another order make the same memory (ids are deterministic too).
    assert summarize(cast, "alice", facts[::-1], 53) == summary
    assert summarize(cast, "alice", [], 53) is None
    quiet = summarize(cast, "dave", [fact(10, "idle", "did", "park", [])], 10)
    assert quiet is not None and quiet.text == "Spent the night of day 1 quietly at the Park."
