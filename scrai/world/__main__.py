"""``python -m scrai.world [--reseed] [--max-ticks N] [--wait-for-cast S]``: the world system.

Exits 0 when the last tick closed (or on SIGTERM/SIGINT), 2 when the world in
Redis was seeded from another scenario and ``--reseed`` was not given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from scrai.service import run_service


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scrai.world", description=__doc__)
    parser.add_argument(
        "--reseed", action="store_true", help="start the world over from the scenario"
    )
    parser.add_argument(
        "--max-ticks", type=int, default=None, help="last tick (overrides the scenario)"
    )
    parser.add_argument("--name", default="world", help="consumer name (stable across restarts)")
    parser.add_argument(
        "--wait-for-cast",
        type=float,
        default=0.0,
        metavar="S",
        help="hold a new run's first tick until every agent is alive, at most S seconds",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_code = 0

    async def run(stop: asyncio.Event) -> None:
        nonlocal exit_code
        from scrai.connection import connect
        from scrai.keys import Keys
        from scrai.settings import Settings
        from scrai.world.system import ScenarioMismatch, WorldSystem

        settings = Settings()
        redis = connect(settings, block_ms=1_000)
        try:
            system = WorldSystem(
                redis, Keys(settings.namespace), settings,
                reseed=args.reseed, max_ticks=args.max_ticks, name=args.name,
                freeze_heap=True, cast_wait_s=args.wait_for_cast,
            )  # fmt: skip
            await system.run(stop)
        except ScenarioMismatch as exc:
            logging.getLogger("scrai.world").error("%s", exc)
            exit_code = 2
        finally:
            await redis.aclose()

    run_service("world", run)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
