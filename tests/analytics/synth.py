"""A small seeded world that writes the committed log the world system would.

It follows the contract of the committed stream (one committed event per agent
per tick, ``agent:<id>`` before/after with ``place``, ``object:<id>`` when an
object is touched, a ``TickEvent`` last in each tick, rejections on their own
stream), so analytics can be tested against an exact, known log.
"""

from __future__ import annotations

import random
from collections import defaultdict

from scrai.events import Event, Idle, Interact, Move, RejectReason, Speak
from scrai.scenario.model import Scenario
from tests.events_factory import action_id, committed, rejected, tick_event


class World:
    """Committed log writer: validates a few rules, keeps state, emits events."""

    def __init__(self, scenario: Scenario, run_id: str = "run") -> None:
        self.scenario = scenario
        self.run_id = run_id
        self.place = {a.id: a.place for a in scenario.agents}
        self.objects = {o.id: o for o in scenario.world.objects}
        self.obj_state = {
            o.id: {"place": o.place, "uses": 0, "users_tick": -1, "users": []}
            for o in scenario.world.objects
        }
        self.commit_seq: dict[str, int] = defaultdict(int)
        self.action_seq: dict[str, int] = defaultdict(int)
        self.tick = 0
        self.committed: list[Event] = []
        self.rejected: list[Event] = []

    def _dist(self, a: str, b: str) -> float:
        return self.scenario.distance(a, b)

    def step(self, actions: dict[str, object]) -> None:
        """Close one tick with ``actions`` (agent -> action); agents without one idle."""
        self.tick += 1
        t = self.tick
        n_committed = n_rejected = 0
        for agent in sorted(self.place):
            action = actions.get(agent) or Idle()
            self.action_seq[agent] += 1
            action_event_id = action_id(agent, self.action_seq[agent], self.run_id)
            before = {f"agent:{agent}": {"place": self.place[agent]}}
            reason = self._apply(agent, action, t, before)
            if reason is not None:
                n_rejected += 1
                self.rejected.append(
                    rejected(
                        agent,
                        self.action_seq[agent],
                        t,
                        action,
                        reason,
                        action_event_id=action_event_id,
                    )
                )
                continue
            after = {f"agent:{agent}": {"place": self.place[agent]}}
            if isinstance(action, Interact):
                after[f"object:{action.object_id}"] = dict(self.obj_state[action.object_id])
            self.commit_seq[agent] += 1
            n_committed += 1
            observers = [
                o
                for o in self.place
                if o != agent
                and self._dist(self.place[o], self.place[agent])
                <= self.scenario.simulation.perception_range
            ]
            self.committed.append(
                committed(
                    agent,
                    self.commit_seq[agent],
                    t,
                    action,
                    before=before,
                    after=after,
                    observers=observers,
                    action_event_id=action_event_id,
                )
            )
        self.committed.append(
            tick_event(t, run_id=self.run_id, committed=n_committed, rejected=n_rejected)
        )

    def _apply(self, agent: str, action: object, t: int, before: dict) -> RejectReason | None:
        here = self.place[agent]
        if isinstance(action, Move):
            if action.to not in self.scenario.place(here).neighbors:
                return RejectReason.UNREACHABLE
            self.place[agent] = action.to
        elif isinstance(action, Speak):
            if (
                action.to is not None
                and self._dist(self.place[action.to], here) > self.scenario.simulation.hearing_range
            ):
                return RejectReason.OUT_OF_HEARING
        elif isinstance(action, Interact):
            obj = self.objects[action.object_id]
            st = self.obj_state[obj.id]
            before[f"object:{obj.id}"] = dict(st)
            if obj.place != here:
                return RejectReason.OUT_OF_REACH
            users = st["users"] if st["users_tick"] == t else []
            if obj.rules.capacity is not None and len(users) >= obj.rules.capacity:
                return RejectReason.CAPACITY_FULL
            st.update(uses=st["uses"] + 1, users_tick=t, users=[*users, agent], last_user=agent)
        return None

    def random_run(self, ticks: int, seed: int) -> World:
        """``ticks`` ticks of seeded random behaviour that exercises every kind of contact."""
        rng = random.Random(seed)
        agents = sorted(self.place)
        for _ in range(ticks):
            actions: dict[str, object] = {}
            for agent in agents:
                r = rng.random()
                here = self.place[agent]
                if r < 0.3:
                    actions[agent] = Move(to=rng.choice(self.scenario.place(here).neighbors))
                elif r < 0.55:
                    near = [a for a in agents if a != agent and self.place[a] == here]
                    to = rng.choice(near) if near and rng.random() < 0.6 else None
                    actions[agent] = Speak(to=to, text="hello")
                elif r < 0.8:
                    objs = [o for o in self.objects.values() if o.place == here] or list(
                        self.objects.values()
                    )
                    actions[agent] = Interact(object_id=rng.choice(objs).id)
            self.step(actions)
        return self
