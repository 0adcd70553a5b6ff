"""The rule brain: a seeded utility model of needs, traits, relationships and goals.

Every option the agent has this tick (talk to someone, reply, seek a friend,
avoid or confront a rival, pursue a goal, follow the day plan, use an object,
explore, rest) gets a utility; the best one wins, with a small seeded jitter to
break ties. The random stream is ``Random(f"{seed}:{agent_id}:{tick}")``, so the
same scenario and seed give the same choices in any process. Pure: no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from scrai.agents import dialogue, social
from scrai.agents.decision import Decision, DecisionContext, Seen
from scrai.agents.geometry import world_index
from scrai.events import Action, Idle, Interact, Move, Speak
from scrai.scenario.model import Agent, Scenario

JITTER = 0.04
# Options carry plain tuples ("move", to) / ("interact", object, verb) / ("idle", reason):
# most options lose, and building a validated action for each was most of a tick.
Pending = tuple[str, ...]
COMMITMENT = 0.15  # bonus for keeping to a course already set: no dithering between places
COMMITMENT_TICKS = 10
FATIGUE = 0.08  # per recent exchange with the same person: conversations run their course
SLEEPY = ("sleep", "home", "bed", "wind down")


@dataclass(slots=True)
class Talk:
    """A line to say, written only if this option wins (most options never do)."""

    to: str
    say: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class Option:
    score: float
    action: Pending | Talk
    reason: str
    dest: str | None = None  # where a move is ultimately heading

    @property
    def key(self) -> tuple[str, str]:
        a = self.action
        if isinstance(a, Talk):
            return ("speak", a.to)
        return (a[0], a[1]) if a[0] != "idle" else ("idle", "")


class RuleBrain:
    """Deterministic, offline brain for one agent of ``scenario``."""

    name = "rule"

    def __init__(self, scenario: Scenario, agent: Agent) -> None:
        self.scenario = scenario
        self.spec = agent
        self.index = world_index(scenario)
        self.traits = agent.traits
        self.kinds = social.kinds(agent)
        self.names = self.index.names
        self.homes = self.index.homes
        self.topics = dialogue.interests(agent.persona, goals=[g.description for g in agent.goals])
        self._talks: list[str] = []

    async def decide(self, ctx: DecisionContext) -> Decision:
        return self.choose(ctx)

    async def aclose(self) -> None:
        return None

    # -- the choice --------------------------------------------------------------------

    def choose(self, ctx: DecisionContext) -> Decision:
        """The best option for ``ctx`` (synchronous: the rule brain never waits)."""
        asleep = self._asleep(ctx)
        if asleep is not None:
            return asleep
        rng = random.Random(f"{ctx.seed}:{ctx.agent_id}:{ctx.tick}")
        # Its own recent exchanges, read once per choice (fatigue is asked for every candidate).
        self._talks = [
            m.text for m in ctx.memories if m.kind == "conversation" and m.id.startswith("self:")
        ]
        options: list[Option] = []
        self._replies(ctx, rng, options)
        self._goals(ctx, rng, options)
        self._people(ctx, rng, options)
        self._objects(ctx, options)
        self._plan(ctx, options)
        self._wander(ctx, rng, options)
        rest = ctx.needs.get("rest", 0.0)
        at_home = ctx.perception.place == self.spec.place
        options.append(Option(rest * 0.6 + 0.12 * at_home, ("idle", "resting"), "tired: rest"))
        options.append(Option(0.05, ("idle", "nothing pressing"), "nothing pressing"))
        intent = ctx.intent or {}
        if intent.get("place") and ctx.tick - int(intent.get("since", 0)) <= COMMITMENT_TICKS:
            for o in options:
                if o.dest == intent["place"]:
                    o.score += COMMITMENT
        blocked = self._blocked(ctx)
        if blocked:
            options = [o for o in options if o.key not in blocked]
        scored = sorted(
            ((o.score + rng.random() * JITTER, -i, o) for i, o in enumerate(options)),
            key=lambda item: (item[0], item[1]),
            reverse=True,
        )
        best = scored[0][2]
        action = self._build(ctx, rng, best.action)
        trace = {
            "options": [{"reason": o.reason, "score": round(s, 3)} for s, _, o in scored[:4]],
            "memories": [m.text for m in ctx.memories if not m.id.startswith("self:")][:3],
            "recent": [m.text for m in ctx.memories if m.id.startswith("self:")][:3],
            "dest": best.dest,
        }
        return Decision(action=action, reason=best.reason, brain=self.name, trace=trace)

    def _asleep(self, ctx: DecisionContext) -> Decision | None:
        """Asleep where its plan says to sleep and nobody calls it: it sleeps on, cheaply."""
        step = ctx.plan_step
        if (
            not step
            or step["place"] != ctx.perception.place
            or "sleep" not in str(step["activity"]).lower()
        ):
            return None
        if any(e.detail.get("to") == ctx.agent_id for e in ctx.perception.events):
            return None  # spoken to: it wakes and weighs its options
        activity = str(step["activity"])[:200]
        return Decision(
            action=Idle(reason=activity),
            reason=f"plan: {activity}",
            brain=self.name,
            trace={"options": [{"reason": "asleep", "score": 1.0}], "dest": None},
        )

    def _build(self, ctx: DecisionContext, rng: random.Random, pending: Pending | Talk) -> Action:
        """The validated action for the winning option."""
        if isinstance(pending, Talk):
            return self._say(ctx, rng, pending.to, **pending.say)
        if pending[0] == "move":
            return Move(to=pending[1])
        if pending[0] == "interact":
            return Interact(object_id=pending[1], verb=pending[2])
        return Idle(reason=pending[1])

    def _blocked(self, ctx: DecisionContext) -> set[tuple[str, str]]:
        """What the world just refused: not tried again straight away."""
        keys: set[tuple[str, str]] = set()
        for rej in ctx.perception.rejections:
            action = rej.get("action") or {}
            if rej.get("tick", -1) >= ctx.tick - 2 and action:
                target = action.get("to") or action.get("object_id") or ""
                keys.add((action.get("kind", ""), target))
        return keys

    # -- helpers -----------------------------------------------------------------------

    def _relation(self, other: str, affinity: float) -> str:
        return social.label(affinity, self.kinds.get(other))

    def _say(self, ctx: DecisionContext, rng: random.Random, other: str, **kw: object) -> Speak:
        aff = ctx.relationships.get(other, 0.0)
        name = self.names.get(other, other)
        own = [
            m.text
            for m in ctx.memories
            if m.id.startswith("self:")
            and m.kind in ("observation", "goal", "reflection")
            and name not in m.text
        ]
        text = dialogue.line(
            rng,
            me=self.spec.name,
            name=name,
            relation=self._relation(other, aff),
            persona=self.spec.persona,
            topics=self.topics,
            place=self.index.places[ctx.perception.place].name,
            memory=own[0] if own and rng.random() < 0.5 else None,
            secret=self.spec.secret if aff > 0.6 and rng.random() < 0.15 else None,
            **kw,  # type: ignore[arg-type]
        )
        return Speak(to=other, text=text)

    def _fatigue(self, ctx: DecisionContext, other: str) -> float:
        """Recent exchanges with ``other`` (its own memories of them) make more talk less likely."""
        name = self.names.get(other, other)
        return FATIGUE * sum(1 for text in self._talks if name in text)

    def _go(
        self, ctx: DecisionContext, out: list[Option], score: float, dst: str | None, reason: str
    ) -> None:
        here = ctx.perception.place
        if dst is None or dst == here:
            return
        nxt = self.index.next_hop(here, dst)
        if nxt and nxt not in ctx.perception.full_places:
            out.append(Option(score, ("move", nxt), reason, dst))

    def _away(self, here: str, threat: str) -> Pending | None:
        now = self.index.distance(here, threat)
        away = sorted(
            self.index.neighbors.get(here, ()), key=lambda p: -self.index.distance(p, threat)
        )
        return ("move", away[0]) if away and self.index.distance(away[0], threat) > now else None

    def _in_hearing(self, ctx: DecisionContext) -> list[Seen]:
        return [a for a in ctx.perception.agents if a.distance <= self.index.hearing_range]

    # -- option builders ---------------------------------------------------------------

    def _replies(self, ctx: DecisionContext, rng: random.Random, out: list[Option]) -> None:
        near = {a.id for a in self._in_hearing(ctx)}
        t = self.traits
        for ev in ctx.perception.events:
            d = ev.detail
            if d.get("action") != "speak" or d.get("to") != ctx.agent_id or ev.id not in near:
                continue
            aff = ctx.relationships.get(ev.id, 0.0)
            if aff < -0.3 and t.boldness < 0.5:
                continue  # a timid agent does not answer a rival; the avoid option may win
            hostile = aff < -0.3 or (dialogue.tone(str(d.get("text", ""))) == "hostile" and aff < 0)
            score = (
                0.2 + 0.45 * ctx.needs.get("social", 0) + 0.2 * max(aff, 0) + 0.1 * t.agreeableness
            )
            score -= self._fatigue(ctx, ev.id)
            speak = Talk(ev.id, {"replying": True, "hostile": hostile})
            out.append(Option(score, speak, f"answer {self.names.get(ev.id, ev.id)}"))

    def _goals(self, ctx: DecisionContext, rng: random.Random, out: list[Option]) -> None:
        here = ctx.perception.place
        heard = self._in_hearing(ctx)
        visible = {a.id: a for a in ctx.perception.agents}
        need = ctx.needs.get("goal", 0.0)
        for goal in [g for g in ctx.goals if g.get("status") == "active"][:2]:
            w = float(goal.get("priority", 0.5)) * (0.4 + 0.6 * need) + 0.1
            kind, target, why = goal["kind"], goal.get("target"), f"goal: {goal['description']}"
            if kind == "visit":
                self._go(ctx, out, w + 0.15, target, why)
            elif kind == "meet" and target:
                if target in {a.id for a in heard}:
                    speak = Talk(target)
                    out.append(Option(w + 0.3 - self._fatigue(ctx, target), speak, why))
                else:
                    seen = visible.get(target)
                    where = (
                        seen.place if seen else ctx.last_seen.get(target, self.homes.get(target))
                    )
                    self._go(ctx, out, w, where, why)
            elif kind == "use" and target in self.index.objects:
                obj = next((o for o in ctx.perception.objects if o.id == target), None)
                if obj and obj.detail.get("in_reach"):
                    verb = self.index.objects[target].rules.verbs[0]
                    out.append(Option(w + 0.3, ("interact", target, verb), why))
                else:
                    self._go(ctx, out, w + 0.1, self.index.objects[target].place, why)
            elif kind == "talk_about":
                topic = target or goal["description"]
                if heard:
                    listener = max(heard, key=lambda a: (ctx.relationships.get(a.id, 0.0), a.id))
                    speak = Talk(listener.id, {"topic": topic})
                    out.append(Option(w + 0.25 - self._fatigue(ctx, listener.id), speak, why))
                else:
                    places = self.index.by_tag.get("social", [])
                    dst = min(places, key=lambda p: (self.index.distance(here, p), p), default=None)
                    self._go(ctx, out, w * 0.5, dst, why)
            elif kind == "avoid" and target in visible:
                away = self._away(here, visible[target].place)
                if away:
                    out.append(Option(w + 0.4, away, why))

    def _people(self, ctx: DecisionContext, rng: random.Random, out: list[Option]) -> None:
        here, t = ctx.perception.place, self.traits
        lonely = ctx.needs.get("social", 0.0)
        heard = sorted(
            self._in_hearing(ctx), key=lambda a: (-abs(ctx.relationships.get(a.id, 0.0)), a.id)
        )
        for other in heard[:5]:
            aff = ctx.relationships.get(other.id, 0.0)
            name = self.names.get(other.id, other.id)
            if aff <= -0.3:
                if t.boldness >= 0.5:
                    score = t.boldness * 0.4 * (lonely + 0.4) - 0.1 * t.agreeableness
                    score -= self._fatigue(ctx, other.id)
                    speak = Talk(other.id, {"hostile": True})
                    out.append(Option(score, speak, f"confront {name}"))
                else:
                    away = self._away(here, other.place)
                    if away:
                        out.append(
                            Option((0.5 - t.boldness) * 0.9 * -aff + 0.1, away, f"avoid {name}")
                        )
                continue
            score = lonely * (0.3 + 0.5 * t.sociability) + 0.3 * aff - self._fatigue(ctx, other.id)
            out.append(Option(score, Talk(other.id), f"talk with {name}"))
        near = {a.id for a in ctx.perception.agents}
        friends = sorted(
            (a, o)
            for o, a in ctx.relationships.items()
            if a >= 0.3 and o not in near and o in ctx.last_seen
        )[-2:]
        for aff, other in friends:
            why = f"look for {self.names.get(other, other)}"
            self._go(ctx, out, lonely * 0.55 * aff + 0.05, ctx.last_seen[other], why)

    def _objects(self, ctx: DecisionContext, out: list[Option]) -> None:
        for obj in ctx.perception.objects:
            d = obj.detail
            if d.get("exhausted") or (d.get("allowed") and ctx.agent_id not in d["allowed"]):
                continue
            need = max((ctx.needs.get(s, 0.0) for s in d.get("satisfies") or []), default=0.0)
            if need <= 0.2:
                continue
            users = [u for u in d.get("users", []) if u != ctx.agent_id]
            rivals = [u for u in users if ctx.relationships.get(u, 0.0) <= -0.3]
            contest = (0.15 * self.traits.boldness - 0.1) if rivals else 0.0
            label = d.get("name") or obj.id
            if d.get("in_reach"):
                verb = self.index.objects[obj.id].rules.verbs[0]
                action = ("interact", obj.id, verb)
                out.append(Option(need * 0.7 + 0.05 + contest, action, f"{verb} {label}"))
            elif need > 0.5:
                self._go(ctx, out, need * 0.4, obj.place, f"head for {label}")

    def _plan(self, ctx: DecisionContext, out: list[Option]) -> None:
        step = ctx.plan_step
        if not step:
            return
        here, activity = ctx.perception.place, str(step["activity"])
        sleepy = any(word in activity.lower() for word in SLEEPY)
        if step["place"] != here:
            score = 0.35 + 0.1 * (1 - self.traits.curiosity) + 0.15 * sleepy
            self._go(ctx, out, score, step["place"], f"plan: {activity}")
        else:
            score = (0.55 if sleepy else 0.2) + 0.1 * ctx.needs.get("rest", 0.0)
            out.append(Option(score, ("idle", activity[:200]), f"plan: {activity}"))

    def _wander(self, ctx: DecisionContext, rng: random.Random, out: list[Option]) -> None:
        full = ctx.perception.full_places
        fresh = [
            p
            for p in ctx.perception.reachable_places
            if p not in ctx.visited[-4:] and p not in full
        ]
        if fresh:
            dst = rng.choice(fresh)
            score = ctx.needs.get("curiosity", 0.0) * (0.35 + 0.3 * self.traits.curiosity)
            out.append(
                Option(
                    score,
                    ("move", dst),
                    f"explore {self.index.places[dst].name}",
                    dst,
                )
            )
