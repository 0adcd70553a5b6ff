"""Pure narration: committed events into first-person memories, and facts into summaries.

For each committed event the actor remembers what it did and each observer what
it saw, or heard when within hearing range of the speaker. Every event an agent
took part in also leaves a compact *fact*; the consolidator turns a run of facts
into one summary memory ("Spent the morning of day 1 at the Bakery with Bob;
talked about the festival 3 times").
"""

from __future__ import annotations

import math
import sys
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from scrai.events import Idle, Interact, Move, Speak, WorldStateCommittedEvent
from scrai.memory.model import Memory, memory_id
from scrai.memory.scoring import event_importance, keywords, tokenize
from scrai.scenario.model import Scenario

# Below this an event is not worth a memory of its own; it still counts in summaries.
MIN_STORED_IMPORTANCE = 2
_PAST = {
    "use": "used",
    "eat": "ate",
    "drink": "drank",
    "read": "read",
    "sit": "sat",
    "buy": "bought",
    "take": "took",
    "give": "gave",
    "ring": "rang",
    "make": "made",
    "sell": "sold",
    "feed": "fed",
}

Fact = dict[str, Any]


class Note(NamedTuple):
    """What one agent keeps from one event: a memory (or None when trivial) and a fact."""

    agent_id: str
    memory: Memory | None
    fact: Fact | None


class Cast:
    """Names and ties looked up from the scenario, so texts read like a story, not ids."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        # The ids interned now, at start-up: the consolidator interns the ids it keeps
        # from events, and gets these strings back instead of ones made in a batch.
        for entity in (*scenario.agents, *scenario.world.places, *scenario.world.objects):
            sys.intern(entity.id)
        self.agents = {a.id: a for a in scenario.agents}
        self.places = {p.id: p for p in scenario.world.places}
        self.objects = {o.id: o for o in scenario.world.objects}
        self.ties: dict[tuple[str, str], str] = {}
        self.tied: dict[str, set[str]] = {}  # agent -> those with a tie to it, either way
        for a in scenario.agents:
            for r in a.relationships:
                self.ties[(a.id, r.target)] = r.kind
                self.tied.setdefault(a.id, set()).add(r.target)
                self.tied.setdefault(r.target, set()).add(a.id)
        # Names are who was talked with, not what about.
        self.name_tokens = {t for a in scenario.agents for t in (a.id.lower(), *tokenize(a.name))}
        self.hearing_range = scenario.simulation.hearing_range
        self.ticks_per_day = scenario.simulation.ticks_per_day
        self.audience_cap = scenario.memory.audience_cap
        # No cache of answers: one filled during batches would pin the allocator's arenas,
        # and working one out is a fraction of a microsecond.
        self._positions = {p.id: p.position for p in scenario.world.places}

    def name(self, agent_id: str) -> str:
        agent = self.agents.get(agent_id)
        return agent.name if agent else agent_id

    def place(self, place_id: str | None) -> str:
        place = self.places.get(place_id or "")
        return place.name if place else (place_id or "somewhere")

    def thing(self, object_id: str) -> str:
        obj = self.objects.get(object_id)
        return (obj.name or obj.kind) if obj else object_id

    def tie(self, me: str, other: str | None) -> str | None:
        """Kind of relationship ``me`` has with ``other`` (either direction), or None."""
        if other is None:
            return None
        return self.ties.get((me, other)) or self.ties.get((other, me))

    def start_place(self, agent_id: str) -> str | None:
        agent = self.agents.get(agent_id)
        return agent.place if agent else None

    def within_hearing(self, a: str | None, b: str | None) -> bool:
        if not a or not b:
            return False
        if a == b:
            return True
        pa, pb = self._positions.get(a), self._positions.get(b)
        if pa is None or pb is None:
            return False
        return math.hypot(pa[0] - pb[0], pa[1] - pb[1]) <= self.hearing_range


def past(verb: str) -> str:
    if verb in _PAST:
        return _PAST[verb]
    return verb + "d" if verb.endswith("e") else verb + "ed"


def _place_of(state: Mapping[str, Any], key: str) -> str | None:
    value = state.get(key, {}).get("place")
    return value if isinstance(value, str) else None


def _contested(event: WorldStateCommittedEvent, object_id: str) -> bool:
    after = event.payload.after.get(f"object:{object_id}", {})
    users = after.get("users") or []
    exhausted = after.get("resource") is not None and float(after["resource"]) <= 0
    return len(set(users) - {event.entity_id}) > 0 or exhausted


def _object_place(cast: Cast, event: WorldStateCommittedEvent, object_id: str) -> str | None:
    """Where the object is (an object within reach may be at a neighbouring place)."""
    place = event.payload.after.get(f"object:{object_id}", {}).get("place")
    if isinstance(place, str):
        return place
    obj = cast.objects.get(object_id)
    return obj.place if obj else None


def audience(event: WorldStateCommittedEvent) -> list[str]:
    """Who notices an event: its observers, and the addressee of speech in any case
    (a scenario may hear farther than it sees)."""
    action, seen = event.payload.action, set(event.payload.observers)
    if isinstance(action, Speak) and action.to:
        seen.add(action.to)
    seen.discard(event.entity_id)
    return sorted(seen)


def concerned(
    cast: Cast,
    event: WorldStateCommittedEvent,
    observers: list[str],
    places: Mapping[str, str | None],
    spots: set[str | None],
) -> list[str]:
    """The observers who keep a note of ``event``: all of them up to ``audience_cap``.

    In a crowd, fifty people may see one stranger walk by; a memory each would be fifty
    writes per event, all but a few never recalled. Beyond the cap the most concerned
    are kept: the one addressed, then those who were there (at ``spots``, or within
    earshot of speech) or have a tie to the actor, then the rest. Within the tier that
    overflows, the pick starts at an offset hashed from the event id, so who is left
    out varies from event to event and does not favour low ids.
    """
    cap = cast.audience_cap
    if len(observers) <= cap:
        return observers
    action, actor = event.payload.action, event.entity_id
    speak = isinstance(action, Speak)
    to = action.to if speak else None  # type: ignore[union-attr]
    here = next(iter(spots))
    tied = cast.tied.get(actor, ())
    first: list[str] = []
    second: list[str] = []
    rest: list[str] = []
    for obs in observers:
        if obs == to:
            first.append(obs)
            continue
        place = places.get(obs)
        if place in spots or obs in tied or (speak and cast.within_hearing(place, here)):
            second.append(obs)
        else:
            rest.append(obs)
    chosen = first
    for tier in (second, rest):
        room = cap - len(chosen)
        if room <= 0:
            break
        if len(tier) > room:
            start = zlib.crc32(str(event.event_id).encode()) % len(tier)
            tier = (tier[start:] + tier[:start])[:room]
        chosen = chosen + tier
    return sorted(chosen)


def notes_for_event(
    cast: Cast, event: WorldStateCommittedEvent, places: Mapping[str, str | None]
) -> list[Note]:
    """The actor's note, then one per observer. ``places``: where each observer is now."""
    actor, action, tick = event.entity_id, event.payload.action, event.tick
    eid = str(event.event_id)
    before = _place_of(event.payload.before, f"agent:{actor}")
    here = _place_of(event.payload.after, f"agent:{actor}") or before
    observers = audience(event)
    together = [o for o in observers if places.get(o) == here]  # observers come sorted

    def fact(role: str, place: str | None, imp: int, with_: list[str], **extra: Any) -> Fact:
        return {
            "e": eid,
            "t": tick,
            "a": action.kind,
            "r": role,
            "p": place,
            "i": imp,
            "w": with_,
            **extra,
        }

    def memory(agent: str, kind: str, text: str, imp: int, words: list[str]) -> Memory | None:
        if imp < MIN_STORED_IMPORTANCE:
            return None
        return Memory(memory_id(eid, agent), agent, tick, kind, text, imp, words, eid)  # type: ignore[arg-type]

    notes: list[Note] = []
    # -- the actor ------------------------------------------------------------------
    topics: list[str] = []
    if isinstance(action, Move):
        imp = event_importance("move")
        text = f"I went from {cast.place(before)} to {cast.place(action.to)}."
        mem = memory(actor, "action", text, imp, keywords(ids=(before, action.to)))
    elif isinstance(action, Speak):
        topics = tokenize(action.text)
        imp = event_importance("speak", relationship=cast.tie(actor, action.to))
        whom = cast.name(action.to) if action.to else "everyone around"
        text = f'At {cast.place(here)} I said to {whom}: "{action.text}"'
        mem = memory(actor, "conversation", text, imp, keywords(action.text, ids=(action.to, here)))
    elif isinstance(action, Interact):
        imp = event_importance("interact", contested=_contested(event, action.object_id))
        where = _object_place(cast, event, action.object_id) or here
        text = f"I {past(action.verb)} the {cast.thing(action.object_id)} at {cast.place(where)}."
        words = keywords(action.verb, ids=(action.object_id, where))
        mem = memory(actor, "action", text, imp, words)
    else:
        assert isinstance(action, Idle)
        imp = event_importance("idle")
        mem = None
    extra: dict[str, Any] = {"k": topics} if topics else {}
    if isinstance(action, Interact):
        extra["o"] = action.object_id
    notes.append(Note(actor, mem, fact("did", here, imp, together, **extra)))

    # -- the observers --------------------------------------------------------------
    if isinstance(action, Idle):
        return notes  # someone standing about is in the actor's "with", not a memory
    who = cast.name(actor)
    if isinstance(action, Interact):  # the same for every observer
        contested = _contested(event, action.object_id)
        obj_place = _object_place(cast, event, action.object_id)
        spots = {obj_place or here}
    elif isinstance(action, Move):
        spots = {before, action.to}
    else:
        spots = {here}
    # Every observer gets the same keywords (for speech: heard or not): computed once per
    # event. Not cached across events: a long-lived cache's churn pins the allocator's
    # arenas, and the consolidator's memory grew by ~6 MB per 100 ticks of 1,000 agents.
    observed: dict[tuple[str | None, tuple[str | None, ...]], list[str]] = {}

    def observer_words(text: str | None, ids: tuple[str | None, ...]) -> list[str]:
        key = (text, ids)
        if key not in observed:
            observed[key] = keywords(text, ids=ids)
        return observed[key]

    for obs in concerned(cast, event, observers, places, spots):
        obs_place = places.get(obs)
        tie = cast.tie(obs, actor)
        if isinstance(action, Speak):
            to_me = action.to == obs
            heard = to_me or cast.within_hearing(obs_place, here)
            imp = event_importance(
                "speak", role="observer", addressed_to_me=to_me, heard=heard, relationship=tie
            )
            if not heard:
                target = f" to {cast.name(action.to)}" if action.to else ""
                text, kind = f"I saw {who} talking{target} at {cast.place(here)}.", "observation"
                words = observer_words(None, (actor, action.to, here))
            else:
                if to_me:
                    text = f'{who} said to me: "{action.text}"'
                elif action.to:
                    text = f'I heard {who} say to {cast.name(action.to)}: "{action.text}"'
                else:
                    text = f'I heard {who} say: "{action.text}"'
                kind, words = "conversation", observer_words(action.text, (actor, action.to, here))
            f_extra = {"k": topics} if heard else {}
            notes.append(
                Note(
                    obs,
                    memory(obs, kind, text, imp, words),
                    fact("heard" if heard else "saw", obs_place, imp, [actor], **f_extra),
                )
            )
        elif isinstance(action, Move):
            near = obs_place in (before, action.to)
            imp = event_importance("move", role="observer", relationship=tie, near=near)
            if obs_place == action.to:
                text = f"I saw {who} arrive at {cast.place(action.to)} from {cast.place(before)}."
            elif obs_place == before:
                text = f"I saw {who} leave {cast.place(before)} for {cast.place(action.to)}."
            else:
                text = f"I saw {who} go from {cast.place(before)} to {cast.place(action.to)}."
            words = observer_words(None, (actor, before, action.to))
            notes.append(
                Note(
                    obs,
                    memory(obs, "observation", text, imp, words),
                    fact("saw", obs_place, imp, [actor]),
                )
            )
        elif isinstance(action, Interact):
            near = obs_place == obj_place
            imp = event_importance(
                "interact", role="observer", contested=contested, relationship=tie, near=near
            )
            thing, where = cast.thing(action.object_id), obj_place or here
            text = f"I saw {who} {action.verb} the {thing} at {cast.place(where)}."
            words = observer_words(action.verb, (actor, action.object_id, where))
            notes.append(
                Note(
                    obs,
                    memory(obs, "observation", text, imp, words),
                    fact("saw", obs_place, imp, [actor], o=action.object_id),
                )
            )
    return notes


# -- summaries ----------------------------------------------------------------------------

_PARTS = ("night", "morning", "afternoon", "evening")


def describe_period(first: int, last: int, ticks_per_day: int) -> str:
    """'the morning of day 2' when the ticks fall in one quarter of one day, else a tick range."""
    day_a, day_b = first // ticks_per_day, last // ticks_per_day
    part_a = (first % ticks_per_day) * 4 // ticks_per_day
    part_b = (last % ticks_per_day) * 4 // ticks_per_day
    if (day_a, part_a) == (day_b, part_b):
        return f"the {_PARTS[part_a]} of day {day_a + 1}"
    return f"ticks {first}-{last}"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def summarize(cast: Cast, agent_id: str, facts: Sequence[Fact], tick: int) -> Memory | None:
    """One summary memory of a run of facts, or None when there are none."""
    if not facts:
        return None
    facts = sorted(facts, key=lambda f: (f["t"], f["e"]))
    mine = [f for f in facts if f["r"] == "did"]
    places = Counter(f["p"] for f in (mine or facts) if f.get("p"))
    # Company: who was at the same place, or talked within earshot; not who was seen afar.
    company = Counter(
        o for f in facts if f["r"] in ("did", "heard") for o in f.get("w", []) if o != agent_id
    )
    talk = [f for f in facts if f["a"] == "speak" and f["r"] in ("did", "heard")]
    counts = Counter(t for f in talk for t in set(f.get("k", [])) if t not in cast.name_tokens)
    # Ties go to the longer word (more likely the subject than filler), then alphabetical:
    # deterministic whatever the hash seed.
    topics = sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
    used = Counter(f["o"] for f in mine if f.get("o"))

    period = describe_period(facts[0]["t"], facts[-1]["t"], cast.ticks_per_day)
    where = " and ".join(cast.place(p) for p, _ in places.most_common(2)) or "somewhere"
    quiet = all(f["a"] == "idle" for f in facts) and not company
    text = f"Spent {period} {'quietly ' if quiet else ''}at {where}"
    friends = [o for o, _ in company.most_common(3)]
    if friends:
        text += " with " + ", ".join(cast.name(o) for o in friends)
    if topics:
        topic, n = topics[0]
        text += f"; talked about {topic} {_times(n)}"
    elif talk:
        text += f"; had {len(talk)} conversation{'s' if len(talk) > 1 else ''}"
    if used:
        obj, n = used.most_common(1)[0]
        text += f"; used the {cast.thing(obj)} {_times(n)}"
    text += "."
    mean = sum(f["i"] for f in facts) / len(facts)
    importance = min(10, max(3, round(mean) + 2))
    words = keywords(*(t for t, _ in topics[:3]), ids=[*places, *friends, *used])
    mid = memory_id("summary", agent_id, facts[0]["e"], facts[-1]["e"], len(facts))
    return Memory(mid, agent_id, tick, "summary", text, importance, words, None)
