"""``python -m spawner [--backend process|docker|swarm] [--scenario PATH]``.

The scenario defaults to ``$SCENARIO``, else ``scenarios/default.yml``; with
``--from-redis`` the spawner runs whatever scenario is already stored (e.g.
submitted through the API) instead of reading a file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from scrai.scenario.errors import ScenarioError
from scrai.service import run_service
from scrai.settings import Settings
from spawner.backends import BACKENDS
from spawner.service import DEFAULT_SCENARIO, Spawner, read_scenario


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m spawner",
        description="Keep one agent worker per scenario agent alive; remove them all on stop.",
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, help="default: $SCRAI_SPAWNER_BACKEND or process"
    )
    parser.add_argument(
        "--scenario", help=f"scenario file (default: $SCENARIO or {DEFAULT_SCENARIO})"
    )
    parser.add_argument(
        "--from-redis", action="store_true", help="run the scenario already stored in Redis"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Read and validate the file before anything starts: a bad scenario is a clear error.
    settings = Settings()
    scenario = None
    if not args.from_redis:
        path = args.scenario or settings.scenario or DEFAULT_SCENARIO
        try:
            scenario = read_scenario(path)
        except (ScenarioError, OSError) as exc:
            print(f"spawner: cannot use scenario {path}:\n{exc}", file=sys.stderr)
            sys.exit(2)

    async def service(stop: asyncio.Event) -> None:
        await Spawner(Settings(), backend=args.backend, scenario=scenario).run(stop)

    run_service("spawner", service)


if __name__ == "__main__":
    main()
