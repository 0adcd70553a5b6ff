"""Day plans and goal stacks (pure).

A day plan is a list of steps (from tick-of-day ``start`` to ``end``: be at
``place`` for ``activity``), taken from the agent's routine when it has one,
otherwise drawn from its traits, its goals and the tags of the places, seeded so
the same scenario and seed give the same plans. The goal stack orders the
agent's goals; a goal leaves it when reached and steps aside for a while when
the world keeps rejecting the way to it.
"""

from __future__ import annotations

import random
from typing import Any

from scrai.agents.geometry import WorldIndex
from scrai.scenario.model import Agent

Step = dict[str, Any]
GoalState = dict[str, Any]

BLOCKED_TICKS = 6  # how long a goal steps aside after the world refused the way to it


def _pick(rng: random.Random, options: list[str], fallback: str) -> str:
    return rng.choice(options) if options else fallback


def day_plan(
    index: WorldIndex, spec: Agent, seed: int, day: int, home: str | None = None
) -> list[Step]:
    """The plan of ``day`` for ``spec``."""
    tpd = index.ticks_per_day
    home = home or spec.place
    if spec.routine:
        steps = sorted(spec.routine, key=lambda s: s.start)
        plan = []
        for i, step in enumerate(steps):
            end = steps[i + 1].start if i + 1 < len(steps) else tpd
            if step.place in index.places and step.start < tpd:
                plan.append(
                    {
                        "start": step.start,
                        "end": min(end, tpd),
                        "place": step.place,
                        "activity": step.activity,
                        "source": "routine",
                    }
                )
        if plan and plan[0]["start"] > 0:
            plan.insert(
                0,
                {
                    "start": 0,
                    "end": plan[0]["start"],
                    "place": home,
                    "activity": "start the day",
                    "source": "routine",
                },
            )
        return plan
    rng = random.Random(f"{seed}:{spec.id}:day:{day}")
    traits = spec.traits
    social = index.by_tag.get("social", [])
    work = index.by_tag.get("work", [])
    quiet = index.by_tag.get("quiet", [])
    goal_places = [g.target for g in spec.goals if g.kind == "visit" and g.target in index.places]
    goal_places += [
        index.objects[g.target].place
        for g in spec.goals
        if g.kind == "use" and g.target in index.objects
    ]
    midday = (
        goal_places[day % len(goal_places)] if goal_places else _pick(rng, work or social, home)
    )
    afternoon = _pick(
        rng, social if rng.random() < 0.4 + 0.5 * traits.sociability else quiet or social, home
    )
    evening = _pick(rng, social, home) if traits.sociability > 0.4 else home
    cuts = [0, 0.25, 0.5, 0.7, 0.88, 1.0]
    # Small seeded shifts so not everyone moves on the same tick.
    bounds = (
        [0] + [min(tpd - 1, max(1, int(c * tpd) + rng.randint(-1, 1))) for c in cuts[1:-1]] + [tpd]
    )
    places = [home, midday, afternoon, evening, home]
    activities = [
        "start the day",
        "get things done",
        "spend the afternoon",
        "see people",
        "wind down",
    ]
    plan = []
    for i, (place, activity) in enumerate(zip(places, activities, strict=True)):
        if bounds[i + 1] > bounds[i]:
            plan.append(
                {
                    "start": bounds[i],
                    "end": bounds[i + 1],
                    "place": place,
                    "activity": activity,
                    "source": "plan",
                }
            )
    return plan


def current_step(plan: list[Step], tick_of_day: int) -> Step | None:
    for step in plan:
        if step["start"] <= tick_of_day < step["end"]:
            return step
    return plan[-1] if plan else None


def replace_place(plan: list[Step], step: Step, index: WorldIndex, avoid: str) -> str | None:
    """Revise ``step`` to a similar place than ``avoid`` (same tag, nearest); returns it."""
    tags = index.places[avoid].tags if avoid in index.places else []
    options = [p for tag in tags for p in index.by_tag.get(tag, []) if p != avoid]
    if not options:
        options = [p for p in index.neighbors.get(avoid, ()) if p != avoid]
    if not options:
        return None
    best = min(sorted(set(options)), key=lambda p: index.distance(avoid, p))
    for s in plan:
        if s is step or (s["start"] == step["start"] and s["place"] == avoid):
            s["place"], s["source"] = best, "revised"
    return best


def initial_goals(spec: Agent) -> list[GoalState]:
    goals = [
        {
            "description": g.description,
            "kind": g.kind,
            "target": g.target,
            "priority": g.priority,
            "status": "active",
            "order": i,
        }
        for i, g in enumerate(spec.goals)
    ]
    return sort_goals(goals)


def sort_goals(goals: list[GoalState]) -> list[GoalState]:
    """Active first, by priority (then scenario order); reached and blocked after."""
    rank = {"active": 0, "blocked": 1, "achieved": 2}
    return sorted(goals, key=lambda g: (rank.get(g["status"], 3), -g["priority"], g["order"]))


def active_goals(goals: list[GoalState], tick: int) -> list[GoalState]:
    """Goals to pursue at ``tick``: active ones, plus blocked ones whose pause is over."""
    resumed = False
    for g in goals:
        if g["status"] == "blocked" and g.get("blocked_until", 0) <= tick:
            g["status"], resumed = "active", True
    if resumed:
        goals[:] = sort_goals(goals)
    return [g for g in goals if g["status"] == "active"]


def achieve(goals: list[GoalState], goal: GoalState, tick: int) -> None:
    goal["status"], goal["achieved_at"] = "achieved", tick
    goals[:] = sort_goals(goals)


def block(goals: list[GoalState], goal: GoalState, tick: int, why: str) -> None:
    goal["status"], goal["blocked_until"], goal["blocked_because"] = (
        "blocked",
        tick + BLOCKED_TICKS,
        why,
    )
    goals[:] = sort_goals(goals)
