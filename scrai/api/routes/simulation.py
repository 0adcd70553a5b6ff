"""The clock: read it, and ask the world system to pause, resume, step or change speed.

The API never changes the clock itself: it writes requests into ``keys.clock_control``,
which the world system applies (it is the only writer of world state).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from scrai.api.deps import KeysDep, RedisDep, TokenDep
from scrai.api.ratelimit import limit_control
from scrai.status import float_or_none, int_or_none
from scrai.world.clock import request

router = APIRouter(prefix="/api/simulation", tags=["simulation"])
Handler = Callable[..., Awaitable[Any]]


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
        tick=int_or_none(clock.get("tick")),
        last_closed=int_or_none(clock.get("last_closed")),
        state=clock.get("state", "unknown"),
        speed=float_or_none(clock.get("speed")) or 1.0,
        agents_alive=int(alive),
        agents_total=int(total),
        deadline_at=float_or_none(clock.get("deadline_at")),
        pending_control=control,
    )


# Control routes share one limit per client: a stuck button cannot flood the world.
_control = [TokenDep, Depends(limit_control)]


def _control_route(path: str, summary: str) -> Callable[[Handler], Handler]:
    """``POST /api/simulation<path>``: token, rate limit, 202 with the pending requests."""
    return router.post(
        path,
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=_control,
        response_model=ControlAccepted,
        summary=summary,
    )


async def _ask(redis: RedisDep, keys: KeysDep, **ask: Any) -> ControlAccepted:
    """Queue one clock request (the same call the CLI makes) and echo what is pending."""
    await request(redis, keys, **ask)
    pending = await redis.hgetall(keys.clock_control)
    return ControlAccepted(requested=ask, pending_control=pending)


@_control_route("/pause", "Ask the world to stop opening ticks")
async def pause(redis: RedisDep, keys: KeysDep) -> ControlAccepted:
    return await _ask(redis, keys, state="paused")


@_control_route("/resume", "Ask the world to run again")
async def resume(redis: RedisDep, keys: KeysDep) -> ControlAccepted:
    return await _ask(redis, keys, state="running")


@_control_route("/step", "While paused, run this many more ticks")
async def step(redis: RedisDep, keys: KeysDep, body: StepRequest | None = None) -> ControlAccepted:
    return await _ask(redis, keys, steps=(body or StepRequest()).steps)


@_control_route("/speed", "Set the tick-rate multiplier")
async def speed(redis: RedisDep, keys: KeysDep, body: SpeedRequest) -> ControlAccepted:
    return await _ask(redis, keys, speed=body.speed)
