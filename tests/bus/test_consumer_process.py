"""A consumer as its own process: graceful SIGTERM, and SIGKILL mid-batch with restarts."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.bus.consumer_proc import effect_keys
from tests.helpers import wait_for

SCRIPT = Path(__file__).with_name("consumer_proc.py")


async def spawn(env: dict[str, str], stream: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--stream",
        stream,
        "--group",
        "g",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def expect_line(proc: asyncio.subprocess.Process, text: str, timeout_s: float = 20) -> None:
    assert proc.stdout is not None
    async with asyncio.timeout(timeout_s):
        while True:
            line = await proc.stdout.readline()
            if not line:
                err = await proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"process ended before {text!r}: {err.decode()[-2000:]}")
            if line.decode().strip() == text:
                return


async def test_sigterm_finishes_the_batch_acks_and_exits_zero(
    redis, namespace, stream, publish, subprocess_env
) -> None:
    published = await publish(100)
    proc = await spawn(
        subprocess_env, stream, "--name", "c1", "--batch-size", "10", "--hold-until-stop"
    )
    await expect_line(proc, "in-batch")  # a batch of 10 is open in the handler
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-2000:]

    effects, total = effect_keys(namespace, stream)
    assert int(await redis.get(total)) == 10
    assert sorted(await redis.hkeys(effects)) == sorted(str(e.event_id) for _, e in published[:10])
    [group] = await redis.xinfo_groups(stream)
    assert group["pending"] == 0  # what it read, it acked
    assert group["last-delivered-id"] == published[9][0]  # and it read nothing more


@pytest.mark.slow
@pytest.mark.chaos
async def test_sigkill_mid_batch_then_restart_handles_every_event_once(
    redis, namespace, stream, publish, subprocess_env
) -> None:
    published = await publish(10_000)
    effects, total = effect_keys(namespace, stream)
    common = ("--batch-size", "100", "--work-ms", "3")

    async def current() -> int:
        return int(await redis.get(total) or 0)

    in_flight_at_kill = []
    for threshold in (1_500, 3_500, 5_500, 7_500):
        proc = await spawn(subprocess_env, stream, "--name", "c1", *common)

        async def reached(t: int = threshold) -> bool:
            return await current() >= t

        async def mid_batch() -> bool:  # a batch is read and not yet applied nor acked
            return (await redis.xpending(stream, "g"))["pending"] > 0

        await wait_for(reached, 60, interval_s=0.002)
        await wait_for(mid_batch, 10, interval_s=0.001)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        in_flight_at_kill.append((await redis.xpending(stream, "g"))["pending"])
    # Usually the batch was still open; it may have committed between our look and the kill.
    assert sum(in_flight_at_kill) > 0, in_flight_at_kill

    # The last run is a new member: it claims what c1 left pending, then drains the rest.
    proc = await spawn(
        subprocess_env, stream, "--name", "c2", "--burst", "--claim-idle-ms", "0", *common
    )
    _, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()[-2000:]

    counts = {k: int(v) for k, v in (await redis.hgetall(effects)).items()}
    assert counts == {str(e.event_id): 1 for _, e in published}
    assert await current() == 10_000
    assert (await redis.xpending(stream, "g"))["pending"] == 0
