"""The simulation clock: its state in ``keys.clock``, timing, and the control requests.

Tick ``t`` is open while ``tick > last_closed``. In ``running`` state the next tick
opens ``tick_interval_s / speed`` after the previous one opened (at once with an
interval of 0); a tick closes when every live agent has answered or
``tick_deadline_s / speed`` after it opened. ``paused`` lets an open tick close but
opens no new one, except the ``steps`` asked for. ``finished`` is final.

Control requests (``keys.clock_control``: ``state``, ``speed``, ``steps``) come
from the API or CLI; :func:`apply_control` folds them into the clock and clears
them in one server-side step, so a request made meanwhile is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from scrai.keys import Keys

ClockStateName = Literal["running", "paused", "finished"]


@dataclass(slots=True)
class Clock:
    tick: int = 0
    state: str = "running"
    speed: float = 1.0
    opened_at: float = 0.0
    deadline_at: float = 0.0
    last_closed: int = 0
    steps: int = 0  # ticks still to open while paused

    @property
    def is_open(self) -> bool:
        return self.tick > self.last_closed

    def to_hash(self) -> dict[str, str]:
        return {
            "tick": str(self.tick),
            "state": self.state,
            "speed": repr(self.speed),
            "opened_at": repr(self.opened_at),
            "deadline_at": repr(self.deadline_at),
            "last_closed": str(self.last_closed),
            "steps": str(self.steps),
        }

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Clock:
        return cls(
            tick=int(data.get("tick", 0)),
            state=data.get("state", "running"),
            speed=float(data.get("speed", 1.0)),
            opened_at=float(data.get("opened_at", 0.0)),
            deadline_at=float(data.get("deadline_at", 0.0)),
            last_closed=int(data.get("last_closed", 0)),
            steps=int(data.get("steps", 0)),
        )


def next_open_at(clock: Clock, tick_interval_s: float) -> float:
    """When the next tick may open in ``running`` state (epoch seconds)."""
    if clock.tick == 0 or tick_interval_s <= 0:
        return 0.0
    return clock.opened_at + tick_interval_s / clock.speed


def may_open(clock: Clock, now: float, tick_interval_s: float) -> bool:
    if clock.is_open or clock.state == "finished":
        return False
    if clock.state == "paused":
        return clock.steps > 0
    return now >= next_open_at(clock, tick_interval_s)


def open_next(clock: Clock, now: float, tick_deadline_s: float) -> None:
    """Advance ``clock`` to the next tick, opened now (in memory; the caller stores it)."""
    if clock.state == "paused":
        clock.steps = max(0, clock.steps - 1)
    clock.tick += 1
    clock.opened_at = now
    clock.deadline_at = now + tick_deadline_s / clock.speed


# Fold the control hash into the clock hash and clear it, atomically.
# KEYS: control, clock. Returns the clock hash as a flat list.
_CONTROL_LUA = """
local req = redis.call('HGETALL', KEYS[1])
if #req == 0 then return redis.call('HGETALL', KEYS[2]) end
redis.call('DEL', KEYS[1])
local ask = {}
for i = 1, #req, 2 do ask[req[i]] = req[i + 1] end
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'finished' then
  if ask['state'] == 'running' or ask['state'] == 'paused' then
    state = ask['state']
    redis.call('HSET', KEYS[2], 'state', state)
  end
  local speed = tonumber(ask['speed'] or '')
  if speed and speed > 0 and speed < 1e6 then
    redis.call('HSET', KEYS[2], 'speed', ask['speed'])
  end
  local steps = tonumber(ask['steps'] or '')
  if state == 'running' then
    redis.call('HSET', KEYS[2], 'steps', 0)
  elseif steps and steps > 0 then
    redis.call('HINCRBY', KEYS[2], 'steps', math.floor(steps))
  end
end
return redis.call('HGETALL', KEYS[2])
"""


class ClockControl:
    """Applies pending control requests to the stored clock."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._script = redis.register_script(_CONTROL_LUA)

    async def apply(self) -> Clock | None:
        """The stored clock with the pending requests applied; None when none is pending.

        The world asks every 50 ms and almost never finds a request: a plain EXISTS
        then, rather than a script call (whose Lua garbage costs the server ~1 ms).
        """
        if not await self.redis.exists(self.keys.clock_control):
            return None
        flat = await self._script(keys=[self.keys.clock_control, self.keys.clock])
        return Clock.from_hash(dict(zip(flat[::2], flat[1::2], strict=True)))


async def request(
    redis: aioredis.Redis,
    keys: Keys,
    *,
    state: ClockStateName | None = None,
    speed: float | None = None,
    steps: int = 0,
) -> None:
    """Ask the world to pause, resume, step or change speed (for the API and CLI)."""
    async with redis.pipeline(transaction=True) as tx:
        if state is not None:
            tx.hset(keys.clock_control, "state", state)
        if speed is not None:
            if speed <= 0:
                raise ValueError("speed must be positive")
            tx.hset(keys.clock_control, "speed", repr(float(speed)))
        if steps:
            tx.hincrby(keys.clock_control, "steps", steps)
        await tx.execute()
