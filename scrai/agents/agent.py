"""The cognitive agent: perceive, recall, plan, reason, act, reflect.

One ``CognitiveAgent`` per agent of the scenario. The worker hosting it reads
the world once per tick for all its agents (``WorldView``), hands each agent the
committed events it witnessed (``absorb``), and drives the steps below in
batches: ``begin`` (perceive and plan), recall, ``context`` + the brain's
decision, ``conclude`` (act and reflect). ``tick`` runs them all for one agent.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from scrai.agents import needs as needs_mod
from scrai.agents import planner, social
from scrai.agents.decision import Brain, Decision, DecisionContext, Perception, RecalledMemory
from scrai.agents.geometry import world_index
from scrai.agents.mind import Mind, dumps
from scrai.agents.observe import absorb_happening
from scrai.agents.perception import perceive
from scrai.agents.reflect import as_clause, reflections
from scrai.agents.view import Happening, WorldView
from scrai.events import SCHEMA_VERSION
from scrai.scenario.model import Agent, Scenario

log = logging.getLogger(__name__)

MAX_FRESH = 16  # notable events of last tick kept for perception
RECALL_EVERY_TICKS = 5
# A cue that changes without the agent moving (a crowd shuffling around it, someone
# new talking) waits this long since the last recall: in a crowd the cue changes every
# tick, and recall (ranking up to max_memories entries) was most of a worker's CPU.
RECALL_MIN_GAP_TICKS = 3


def action_event_id(run_id: str, agent_id: str, sequence: int) -> str:
    """The contract's deterministic id, so a re-sent action is recognised as the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"scrai:{run_id}:{agent_id}:{sequence}"))


@dataclass(slots=True)
class Outcome:
    """What one agent's tick produced, for the worker to write in one round trip."""

    fields: dict[str, str]  # the ActionEvent's stream fields
    mind: dict[str, str]  # HSET fields of keys.agent_mind(id)
    reflections: list[dict[str, Any]] = field(default_factory=list)


class CognitiveAgent:
    """One agent's cognitive loop around a pluggable :class:`Brain`."""

    def __init__(
        self, scenario: Scenario, spec: Agent, brain: Brain, mind: Mind | None = None
    ) -> None:
        self.scenario = scenario
        self.spec = spec
        self.id = spec.id
        self.brain = brain
        self.index = world_index(scenario)
        self.kinds = social.kinds(spec)
        self.base = social.baselines(spec)
        self.mind = mind or Mind(
            needs=needs_mod.initial_needs(spec.traits),
            goals=planner.initial_goals(spec),
            affinity=social.initial_affinity(spec),
            place=spec.place,
        )
        self.fresh: list[Happening] = []  # what it witnessed since its last decision
        self.touched: set[str] = set()  # ties that moved since its last decision
        self.recalled: list[RecalledMemory] = []
        self._cue: tuple[str, ...] = ()
        self._recall_tick = -RECALL_EVERY_TICKS
        self._perception: Perception | None = None
        self._plan_json: str | None = None  # the plan, encoded once per change
        self._written: dict[str, str] = {}  # mind fields as last written to Redis
        self._own: list[RecalledMemory] = []
        self._own_marker: tuple[int, int, str] = (-1, -1, "")

    # -- perceive --------------------------------------------------------------------

    def absorb(self, happening: Happening) -> None:
        """Take in one committed event it was part of or witnessed (in stream order)."""
        if happening.tick <= self.mind.seen_tick:
            return  # already taken in before a restart
        try:
            notable = absorb_happening(self, happening)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Only the world writes the committed stream; an entry naming places or objects
            # this scenario lacks is skipped, never allowed to stop the agent.
            log.warning("%s: skipping an unreadable event of %s: %r", self.id, happening.actor, exc)
            return
        if notable and len(self.fresh) < MAX_FRESH:
            self.fresh.append(happening)

    def caught_up(self, tick: int, stream_pos: str) -> None:
        """Every committed event up to ``tick`` has been absorbed."""
        if tick > self.mind.seen_tick:
            self.mind.seen_tick = tick
            self.mind.stream_pos = stream_pos

    def wants_to_act(self, view: WorldView) -> bool:
        return view.tick > self.mind.last_tick and self.id in view.agents

    def begin(self, view: WorldView) -> tuple[str, ...]:
        """Perceive and plan for ``view.tick``; returns the cue to recall memories with."""
        m, t = self.mind, view.tick
        state = view.agents[self.id]
        m.place = state.get("place") or m.place
        if m.intent and m.intent.get("place") == m.place:
            m.intent = None  # arrived
        needs_mod.grow(m.needs, self.spec.traits)
        rejections = self._rejections(state, view)
        perception = perceive(
            self.index, view, self.id, m.place or self.spec.place, self.fresh, rejections
        )
        for other in perception.agents:
            # Strangers stay strangers until they talk.
            if other.id in m.affinity or other.id in self.kinds:
                m.see(other.id, other.place)
                if other.distance == 0.0:
                    social.together(m.affinity, other.id)
                    self.touched.add(other.id)
        social.drift(m.affinity, self.base, self.touched)
        self.touched.clear()
        self._plan(t, rejections)
        m.needs["goal"] = needs_mod.goal_pressure(m.goals, t - m.progress_tick)
        self._perception = perception
        cue = [m.place or "", *(a.id for a in perception.agents[:4])]
        cue += [str(g.get("target") or "") for g in m.goals[:2] if g["status"] == "active"]
        cue += [e.id for e in perception.events if e.detail.get("action") == "speak"][:3]
        return tuple(c for c in cue if c)

    def _rejections(self, state: dict[str, Any], view: WorldView) -> list[dict[str, Any]]:
        rej = state.get("last_rejection")
        if not rej or int(rej.get("tick", -1)) <= self.mind.rejection_tick:
            return []
        self.mind.rejection_tick = int(rej["tick"])
        out = dict(rej)
        if self.mind.last_action and int(rej["tick"]) == self.mind.last_tick:
            out["action"] = self.mind.last_action
        self.mind.remember(
            view.tick,
            "rejection",
            f"I could not do that: {rej.get('message', '')}"[:200],
            3.0,
            [str(rej.get("reason", ""))],
        )
        self._contest(out, view)
        return [out]

    def _contest(self, rejection: dict[str, Any], view: WorldView) -> None:
        """Losing an object to others sours the tie with them (more so with a rival)."""
        action = rejection.get("action") or {}
        if action.get("kind") != "interact" or rejection.get("reason") not in ("capacity_full",):
            return
        state = view.objects.get(action.get("object_id", ""), {})
        for other in state.get("users") or []:
            if other != self.id:
                social.contest(self.mind.affinity, other, self.kinds.get(other))
                self.touched.add(other)

    # -- plan ------------------------------------------------------------------------

    def _plan(self, tick: int, rejections: list[dict[str, Any]]) -> None:
        m, tpd = self.mind, self.index.ticks_per_day
        day = tick // tpd
        if day != m.plan_day:
            m.plan = planner.day_plan(self.index, self.spec, self.scenario.seed, day)
            m.plan_day = day
            self._plan_json = None
            m.revise(tick, f"planned day {day}")
        m.plan_step = planner.current_step(m.plan, tick % tpd)
        active = planner.active_goals(m.goals, tick)
        for rej in rejections:
            action = rej.get("action") or {}
            target = action.get("to") or action.get("object_id")
            if action.get("kind") == "move" and m.plan_step and target == m.plan_step["place"]:
                new = planner.replace_place(m.plan, m.plan_step, self.index, target)
                self._plan_json = None
                m.revise(tick, f"{target} refused ({rej.get('reason')}): plan moved to {new}")
            for goal in active:
                if (
                    rej.get("reason") == "not_allowed"
                    and goal["kind"] == "use"
                    and goal.get("target") == target
                ):
                    self._ask_instead(goal, target, tick)
                elif target and (goal.get("target") == target or self._goal_place(goal) == target):
                    planner.block(m.goals, goal, tick, str(rej.get("reason")))
                    m.revise(tick, f"goal '{goal['description']}' set aside: {rej.get('reason')}")
        for goal in planner.active_goals(m.goals, tick):
            if goal["kind"] == "visit" and goal.get("target") == m.place:
                self.reach(goal, tick)

    def _ask_instead(self, goal: dict[str, Any], object_id: str, tick: int) -> None:
        """Refused an object reserved for others: go and ask one of them instead."""
        allowed = [a for a in self.index.objects[object_id].rules.allowed if a != self.id]
        if not allowed:
            planner.block(self.mind.goals, goal, tick, "not_allowed")
            return
        helper = max(allowed, key=lambda a: (self.mind.affinity.get(a, 0.0), a))
        goal.update(kind="meet", target=helper, revised_from=object_id)
        self.mind.revise(
            tick, f"not allowed to use {object_id}: will ask {self.index.names.get(helper, helper)}"
        )

    def _goal_place(self, goal: dict[str, Any]) -> str | None:
        target = goal.get("target")
        if goal["kind"] == "use" and target in self.index.objects:
            return self.index.objects[target].place
        return target if goal["kind"] == "visit" else None

    def reach(self, goal: dict[str, Any], tick: int) -> None:
        """Mark ``goal`` reached: it leaves the stack and becomes a memory."""
        if goal["status"] == "achieved":
            return
        planner.achieve(self.mind.goals, goal, tick)
        self.mind.progress_tick = tick
        self.mind.revise(tick, f"goal reached: {goal['description']}")
        self.mind.remember(
            tick,
            "goal",
            f"I managed to {as_clause(goal['description'])}",
            8.0,
            [str(goal.get("target") or "")],
        )

    # -- recall, reason --------------------------------------------------------------

    def needs_recall(self, tick: int, cue: tuple[str, ...]) -> bool:
        """Recall again on arriving somewhere, when the situation changed (at most every
        few ticks), or every ``RECALL_EVERY_TICKS`` anyway."""
        since = tick - self._recall_tick
        if since >= RECALL_EVERY_TICKS:
            return True
        if cue == self._cue:
            return False
        moved = cue[:1] != self._cue[:1]  # the place leads the cue
        return moved or since >= RECALL_MIN_GAP_TICKS

    def set_recalled(self, tick: int, cue: tuple[str, ...], memories: list[RecalledMemory]) -> None:
        self.recalled, self._cue, self._recall_tick = memories, cue, tick

    def context(self, tick: int) -> DecisionContext:
        """What the brain decides from (brains read it and never change it: no copies here)."""
        m = self.mind
        assert self._perception is not None, "begin() first"
        recent = m.episodes[-6:]
        marker = (
            len(m.episodes),
            recent[-1]["tick"] if recent else -1,
            recent[-1]["text"] if recent else "",
        )
        if marker != self._own_marker:  # its own experiences, rebuilt only when they change
            self._own = [
                RecalledMemory(
                    f"self:{e['tick']}:{i}", e["tick"], e["kind"], e["text"], 1.0, e["importance"]
                )
                for i, e in enumerate(reversed(recent))
            ]
            self._own_marker = marker
        return DecisionContext(
            agent_id=self.id,
            tick=tick,
            perception=self._perception,
            memories=self._own + self.recalled,
            needs=m.needs,
            plan_step=m.plan_step,
            goals=m.goals,
            relationships=m.affinity,
            seed=self.scenario.seed,
            last_seen=m.last_seen,
            visited=m.visited,
            intent=m.intent,
        )

    # -- act, reflect ----------------------------------------------------------------

    def conclude(self, view: WorldView, decision: Decision) -> Outcome:
        """The action event for ``decision`` and the mind to save with it."""
        m, t = self.mind, view.tick
        sequence = int(view.agents[self.id].get("action_seq", 0)) + 1
        action = decision.action.model_dump(mode="json")
        fields = {
            "event_id": action_event_id(view.run_id, self.id, sequence),
            "type": "action",
            "entity_id": self.id,
            "sequence": str(sequence),
            "tick": str(t),
            "timestamp": repr(view_time()),
            "schema_version": str(SCHEMA_VERSION),
            "payload": dumps({"action": action}),
        }
        m.last_tick, m.last_action, m.tokens = t, action, m.tokens + decision.tokens
        m.run_id = view.run_id
        dest = decision.trace.get("dest")
        if action["kind"] == "move" and dest and (not m.intent or m.intent.get("place") != dest):
            m.intent = {"place": dest, "since": t, "reason": decision.reason}
        trace = dict(decision.trace)
        trace.setdefault("memories", [r.text for r in self.recalled[:3]])
        trace.update(needs={k: round(v, 3) for k, v in m.needs.items()}, plan_step=m.plan_step)
        m.last_decision = {
            "tick": t,
            "action": action,
            "reason": decision.reason,
            "brain": decision.brain,
            "trace": trace,
        }
        made = (
            reflections(self, t)
            if m.importance >= self.scenario.memory.reflection_threshold
            else []
        )
        self.fresh.clear()
        if self._plan_json is None:
            self._plan_json = dumps(m.plan)
        return Outcome(fields, self._changed(m.to_hash(self._plan_json)), made)

    def _changed(self, mind: dict[str, str]) -> dict[str, str]:
        """Only the mind fields that differ from what was last written (most ticks: a few)."""
        last = self._written
        out = {k: v for k, v in mind.items() if last.get(k) != v}
        last.update(out)
        return out

    async def tick(self, view: WorldView, memory: Any = None) -> Outcome | None:
        """The whole loop for one agent (the worker batches these steps across agents)."""
        if not self.wants_to_act(view):
            return None
        cue = self.begin(view)
        if memory is not None and self.needs_recall(view.tick, cue):
            self.set_recalled(
                view.tick, cue, await memory.recall(self.id, list(cue), view.tick, k=5)
            )
        decision = await self.brain.decide(self.context(view.tick))
        return self.conclude(view, decision)


def view_time() -> float:
    import time

    return time.time()
