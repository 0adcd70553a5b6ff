"""The metrics run's surroundings: where the graph maths runs, how results are stored."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import redis.asyncio as aioredis

from scrai.keys import Keys
from scrai.scenario.model import Scenario

UPDATES_MAX_LEN = 5_000
TRANSITION_KINDS = ("faction_formed", "faction_split")
TRANSITIONS_KEPT = 20


def rivals_of(scenario: Scenario | None) -> set[str]:
    if scenario is None:
        return set()
    return {
        "|".join(sorted((a.id, r.target)))
        for a in scenario.agents
        for r in a.relationships
        if r.kind in ("rival", "enemy")
    }


def metrics_pool() -> ProcessPoolExecutor:
    # spawn, not fork: the parent runs an event loop and threads
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
    )


def _die_with_parent() -> None:
    """In the metrics process: exit when the analytics process dies, even by SIGKILL.

    Without this a killed analytics process leaves its metrics worker (and the
    multiprocessing resource tracker it keeps alive) running forever.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl: go now
        os._exit(0)


async def store_metrics(
    redis: aioredis.Redis,
    keys: Keys,
    tick: int,
    result: dict[str, Any],
    found: list[dict[str, Any]],
) -> None:
    """Replace the stored metrics and insights; announce them on the updates stream.

    Insights that describe a state (a friendship, a hotspot) go when the state does;
    those that describe a change between two runs (a faction formed or split) are
    kept, the latest ``TRANSITIONS_KEPT`` of them, or they would last one run.
    """
    insights_key = keys.analytics("insights")
    old = await redis.hgetall(insights_key)
    fresh = []
    for item in found:
        previous = json.loads(old[item["id"]]) if item["id"] in old else None
        item["first_seen"] = previous["first_seen"] if previous else tick
        if previous is None:
            fresh.append(item["id"])
    ids = {item["id"] for item in found}
    past = [json.loads(raw) for key, raw in old.items() if key not in ids]
    transitions = [i for i in past if i["kind"] in TRANSITION_KINDS]
    transitions += [i for i in found if i["kind"] in TRANSITION_KINDS]
    transitions.sort(key=lambda i: (-i["tick"], i["id"]))
    kept = {i["id"] for i in transitions[:TRANSITIONS_KEPT]}
    found = [i for i in found if i["kind"] not in TRANSITION_KINDS or i["id"] in kept]
    found += [i for i in past if i["id"] in kept]
    async with redis.pipeline(transaction=True) as tx:
        tx.hset(
            keys.analytics("metrics"),
            mapping={
                "tick": tick,
                "graph": json.dumps(result["graph"]),
                "nodes": json.dumps(result["nodes"]),
                "communities": json.dumps(result["communities"]),
                "computed_at": time.time(),
            },
        )
        tx.delete(insights_key)
        if found:
            tx.hset(insights_key, mapping={i["id"]: json.dumps(i) for i in found})
        tx.xadd(
            keys.analytics_updates,
            {
                "kind": "metrics",
                "tick": tick,
                "graph": json.dumps(result["graph"]),
                "new_insights": json.dumps(fresh[:100]),
            },
            maxlen=UPDATES_MAX_LEN,
            approximate=True,
        )
        await tx.execute()
