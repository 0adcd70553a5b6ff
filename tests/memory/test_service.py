"""``python -m scrai.memory``: waits for the scenario, consolidates, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from scrai.bus import publish_many
from scrai.events import Speak
from scrai.memory.store import MemoryStore
from scrai.scenario.store import save_scenario
from tests.helpers import wait_for
from tests.memory.log import Log
from tests.scenarios import village


async def test_service_consolidates_and_stops_cleanly(redis, keys, subprocess_env):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrai.memory", env=subprocess_env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        scenario = village()
        await save_scenario(redis, keys, scenario)  # started before the scenario exists
        log = Log(scenario)
        await publish_many(
            redis, keys.committed_events, [log.commit("alice", 1, Speak(text="Hello"), ["bob"])]
        )
        store = MemoryStore(redis, keys, scenario.memory)
        memories = await wait_for(lambda: store.recent("bob", 5), timeout_s=20)
        assert memories[0].text == 'I heard Alice say: "Hello"'
        assert await wait_for(lambda: redis.exists(keys.health("memory")), timeout_s=10)
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
