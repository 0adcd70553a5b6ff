"""A small seeded world that writes the committed log the world system would.

It follows the contract of the committed stream (one committed event per agent
per tick, ``agent:<id>`` before/after with ``place``, ``object:<id>`` when an
object is touched, a ``TickEvent`` last in each tick, rejections on their own
stream), so analytics can be tested against an exact, known log.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict

from scrai.events import (
    CommittedPayload,
    Event,
    Idle,
    Interact,
    Move,
    RejectedPayload,
    RejectReason,
    Speak,
    TickEvent,
    TickPayload,
    WorldStateCommittedEvent,
    WorldStateRejectedEvent,
)
from scrai.scenario.model import Scenario


def town(
    *,
    agents: int = 12,
    rows: int = 3,
    cols: int = 3,
    seed: int = 7,
    radius: float = 10.5,
    hearing: float = 10.0,
    **analytics: object,
) -> Scenario:
    """A grid town of ``rows x cols`` squares 10 apart, a few objects, a cast with two rivals."""
    places = []
    for r in range(rows):
        for c in range(cols):
            nbrs = [
                f"p{rr}{cc}"
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                if 0 <= rr < rows and 0 <= cc < cols
            ]
            places.append(
                {
                    "id": f"p{r}{c}",
                    "name": f"Square {r}{c}",
                    "position": (c * 10.0, r * 10.0),
                    "neighbors": nbrs,
                }
            )
    objects = [
        {"id": "well", "kind": "well", "place": "p00", "rules": {"capacity": 2}},
        {"id": "bench", "kind": "bench", "place": "p11", "rules": {"capacity": 1}},
        {"id": "stove", "kind": "stove", "place": "p22", "rules": {"capacity": None}},
    ]
    cast = []
    for i in range(agents):
        cast.append(
            {
                "id": f"a{i:02d}",
                "name": f"Agent {i}",
                "place": places[i % len(places)]["id"],
                "archetype": "villager" if i % 2 else "farmer",
            }
        )
    if agents >= 2:
        cast[0]["relationships"] = [{"target": cast[1]["id"], "kind": "rival", "strength": -0.5}]
    return Scenario.model_validate(
        {
            "name": "synth town",
            "seed": seed,
            "world": {"places": places, "objects": objects},
            "agents": cast,
            "simulation": {"hearing_range": hearing, "perception_range": 15.0},
            "analytics": {
                "proximity_radius": radius,
                "tie_half_life_ticks": 30.0,
                "friendship_threshold": 3.0,
                "snapshot_every_ticks": 5,
                "evidence_per_edge": 8,
                **analytics,
            },
        }
    )


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
            action_id = uuid.uuid5(
                uuid.NAMESPACE_URL, f"scrai:{self.run_id}:{agent}:{self.action_seq[agent]}"
            )
            before = {f"agent:{agent}": {"place": self.place[agent]}}
            reason = self._apply(agent, action, t, before)
            if reason is not None:
                n_rejected += 1
                self.rejected.append(
                    WorldStateRejectedEvent(
                        entity_id=agent,
                        sequence=self.action_seq[agent],
                        tick=t,
                        payload=RejectedPayload(
                            action_event_id=action_id,
                            action=action,
                            reason=reason,
                            message=reason.value,
                        ),
                    )
                )
                continue
            after = {f"agent:{agent}": {"place": self.place[agent]}}
            if isinstance(action, Interact):
                after[f"object:{action.object_id}"] = dict(self.obj_state[action.object_id])
            self.commit_seq[agent] += 1
            n_committed += 1
            observers = sorted(
                o
                for o in self.place
                if o != agent
                and self._dist(self.place[o], self.place[agent])
                <= self.scenario.simulation.perception_range
            )
            self.committed.append(
                WorldStateCommittedEvent(
                    event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"commit:{action_id}"),
                    entity_id=agent,
                    sequence=self.commit_seq[agent],
                    tick=t,
                    payload=CommittedPayload(
                        action_event_id=action_id,
                        action=action,
                        before=before,
                        after=after,
                        observers=observers,
                    ),
                )
            )
        self.committed.append(
            TickEvent(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tick:{self.run_id}:{t}"),
                entity_id="world",
                sequence=t,
                tick=t,
                payload=TickPayload(state="running", committed=n_committed, rejected=n_rejected),
            )
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
