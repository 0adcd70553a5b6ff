"""The clock: read it, and ask the world system to pause, resume, step or change speed.

The API never changes the clock itself: it writes requests into ``keys.clock_control``,
which the world system applies (it is the only writer of world state).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from scrai.api.deps import KeysDep, RedisDep, TokenDep
from scrai.api.ratelimit import limit_control

router = APIRouter(prefix="/api/simulation", tags=["simulation"])


class SimulationState(BaseModel):
    scenario: str | None = Field(description="name of the running scenario")
    run_id: str | None = None
    tick: int | None = Field(description="the currently open tick")
    last_closed: int | None = None
    state: str = Field(description="running, paused, finished, or unknown before seeding")
    speed: float
    agents_alive: int
    agents_total: int
    deadline_at: float | None = None
    pending_control: dict[str, str] = Field(
        default_factory=dict, description="requests the world system has not applied yet"
    )


class StepRequest(BaseModel):
    steps: int = Field(default=1, ge=1, le=1_000)


class SpeedRequest(BaseModel):
    speed: float = Field(gt=0, le=1_000, description="multiplier of the scenario's tick rate")


class ControlAccepted(BaseModel):
    requested: dict[str, Any]
    pending_control: dict[str, str]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@router.get("", response_model=SimulationState, summary="Tick, state, speed and agents alive")
async def get_simulation(redis: RedisDep, keys: KeysDep) -> SimulationState:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.clock)
        pipe.hgetall(keys.world_meta)
        pipe.zcount(keys.agents_alive, time.time(), "+inf")
        pipe.hlen(keys.agents_state)
        pipe.hgetall(keys.clock_control)
        clock, meta, alive, total, control = await pipe.execute()
    return SimulationState(
        scenario=meta.get("scenario"),
        run_id=meta.get("run_id"),
        tick=_int(clock.get("tick")),
        last_closed=_int(clock.get("last_closed")),
        state=clock.get("state", "unknown"),
        speed=_float(clock.get("speed")) or 1.0,
        agents_alive=int(alive),
        agents_total=int(total),
        deadline_at=_float(clock.get("deadline_at")),
        pending_control=control,
    )


# Control routes share one limit per client: a stuck button cannot flood the world.
_control = [TokenDep, Depends(limit_control)]


async def _accepted(redis: RedisDep, keys: KeysDep, requested: dict[str, Any]) -> ControlAccepted:
    pending = await redis.hgetall(keys.clock_control)
    return ControlAccepted(requested=requested, pending_control=pending)


@router.post(
    "/pause",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_control,
    response_model=ControlAccepted,
    summary="Ask the world to stop opening ticks",
)
async def pause(redis: RedisDep, keys: KeysDep) -> ControlAccepted:
    await redis.hset(keys.clock_control, "state", "paused")
    return await _accepted(redis, keys, {"state": "paused"})


@router.post(
    "/resume",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_control,
    response_model=ControlAccepted,
    summary="Ask the world to run again",
)
async def resume(redis: RedisDep, keys: KeysDep) -> ControlAccepted:
    await redis.hset(keys.clock_control, "state", "running")
    return await _accepted(redis, keys, {"state": "running"})


@router.post(
    "/step",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_control,
    response_model=ControlAccepted,
    summary="While paused, run this many more ticks",
)
async def step(redis: RedisDep, keys: KeysDep, body: StepRequest | None = None) -> ControlAccepted:
    steps = (body or StepRequest()).steps
    await redis.hincrby(keys.clock_control, "steps", steps)
    return await _accepted(redis, keys, {"steps": steps})


@router.post(
    "/speed",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_control,
    response_model=ControlAccepted,
    summary="Set the tick-rate multiplier",
)
async def speed(redis: RedisDep, keys: KeysDep, body: SpeedRequest) -> ControlAccepted:
    await redis.hset(keys.clock_control, "speed", repr(body.speed))
    return await _accepted(redis, keys, {"speed": body.speed})
