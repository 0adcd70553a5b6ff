"""A crowd's audience is capped: the most concerned observers keep a note, no server."""

from __future__ import annotations

from collections import Counter

from scrai.events import Move, Speak
from scrai.memory.narrate import Cast, notes_for_event
from scrai.scenario.model import Scenario
from tests.memory.log import Log
from tests.scenarios import village


def crowd_village(extra: int, **memory: object) -> Scenario:
    """The village with ``extra`` strangers on the mill (seen from the bakery, not heard)."""
    data = village(**memory).model_dump(mode="json")
    data["agents"] += [
        {"id": f"x{i:02d}", "name": f"Stranger {i}", "place": "mill"} for i in range(extra)
    ]
    return Scenario.model_validate(data)


def test_small_audiences_are_kept_whole() -> None:
    scenario = village()
    log = Log(scenario)
    event = log.commit("alice", 1, Speak(text="Bread!"), ["bob", "carol", "eve"])
    places = {a.id: a.place for a in scenario.agents}
    noted = [n.agent_id for n in notes_for_event(Cast(scenario), event, places)]
    assert noted == ["alice", "bob", "carol", "eve"]


def test_a_crowd_keeps_the_addressee_those_there_and_friends_first() -> None:
    scenario = crowd_village(30, audience_cap=5)
    log = Log(scenario)
    strangers = [f"x{i:02d}" for i in range(30)]
    places = {a.id: a.place for a in scenario.agents}
    cast = Cast(scenario)
    event = log.commit("alice", 1, Speak(to="eve", text="Bread!"), ["bob", "carol", *strangers])
    noted = [n.agent_id for n in notes_for_event(cast, event, places)]
    # Eve (addressed), Bob (there, and a friend), Carol (in earshot, and a rival):
    # then two of the thirty strangers who only saw it from afar.
    assert noted[0] == "alice" and len(noted) == 6
    assert {"eve", "bob", "carol"} <= set(noted)
    assert len(set(noted) & set(strangers)) == 2


def test_who_is_left_out_varies_by_event() -> None:
    scenario = crowd_village(30, audience_cap=4)
    log = Log(scenario)
    strangers = [f"x{i:02d}" for i in range(30)]
    places = {a.id: a.place for a in scenario.agents}
    cast = Cast(scenario)
    kept: Counter[str] = Counter()
    for t in range(60):
        event = log.commit("dave", t, Move(to="park"), strangers)
        kept.update(n.agent_id for n in notes_for_event(cast, event, places)[1:])
    # Every stranger gets its turn; none is always or never chosen.
    assert set(kept) == set(strangers)
    assert max(kept.values()) < 60
