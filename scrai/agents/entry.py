"""The agent worker command: ``run_agent_worker.py`` or ``python -m scrai.agents``.

Hosts one agent (``--agent-id``), a list (``--agents A,B,C``) or a shard of the
cast (``--shard i/n``) in one asyncio process. The scenario comes from Redis
(stored by whoever started the run) unless ``--scenario FILE`` is given.
Configuration: ``SCRAI_REDIS_URL``, ``SCRAI_NAMESPACE`` (see scrai/settings.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from scrai.agents.worker import AgentWorker, shard
from scrai.connection import connect
from scrai.keys import Keys
from scrai.scenario.model import Scenario
from scrai.scenario.store import load_scenario
from scrai.service import run_service
from scrai.settings import Settings

log = logging.getLogger("scrai.worker")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_agent_worker.py", description=(__doc__ or "").splitlines()[0]
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent-id", help="host this one agent")
    who.add_argument("--agents", help="host these agents (comma-separated ids)")
    who.add_argument("--shard", help="host shard i of n of the cast, e.g. 0/4")
    parser.add_argument("--scenario", help="scenario file (default: the one stored in Redis)")
    parser.add_argument("--name", help="worker name for its health key (default: from the agents)")
    parser.add_argument("--max-ticks", type=int, default=None, help="stop after acting for N ticks")
    return parser.parse_args(argv)


async def _scenario(
    redis: object, keys: Keys, path: str | None, stop: asyncio.Event
) -> Scenario | None:
    if path:
        from scrai.scenario.loader import load_scenario_file

        return load_scenario_file(path)
    while not stop.is_set():  # the launcher stores it first; wait if we started early
        scenario = await load_scenario(redis, keys)  # type: ignore[arg-type]
        if scenario is not None:
            return scenario
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass
    return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    async def serve(stop: asyncio.Event) -> None:
        settings = Settings()
        keys = Keys(settings.namespace)
        redis = connect(settings)
        try:
            scenario = await _scenario(redis, keys, args.scenario, stop)
            if scenario is None:
                return
            everyone = [a.id for a in scenario.agents]
            if args.agent_id:
                ids, name = [args.agent_id], args.agent_id
            elif args.agents:
                ids = [a for a in args.agents.split(",") if a]
                name = ids[0] if len(ids) == 1 else f"{ids[0]}+{len(ids) - 1}"
            else:
                i, _, n = args.shard.partition("/")
                ids, name = shard(everyone, int(i), int(n)), f"shard-{i}-of-{n}"
            worker = AgentWorker(
                redis,
                keys,
                scenario,
                ids,
                name=args.name or name,
                health_ttl_s=settings.health_ttl_s,
                settings=settings,
            )
            await worker.run(stop, max_ticks=args.max_ticks)
            await worker.aclose()
            log.info("%s: stopped after %d ticks", worker.name, worker.ticks_done)
        finally:
            await redis.aclose()

    try:
        run_service("worker", serve)
    except ValueError as exc:
        print(f"run_agent_worker: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
