"""``python -m bench NAME [NAME...] | all [--json] [--out FILE]``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
from collections.abc import Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.common import Figure, emit, write_json

# The order ``all`` runs them in (it skips the ones not written yet, then runs any others).
KNOWN = ["bus", "world", "agents", "memory", "analytics", "spawn", "e2e", "scale"]
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def available() -> list[str]:
    """Benchmark modules present: the known ones in their order, then any others."""
    here = Path(__file__).resolve().parent
    present = {
        p.stem for p in here.glob("*.py") if p.stem not in {"__init__", "__main__", "common"}
    }
    return [n for n in KNOWN if n in present] + sorted(present - set(KNOWN))


def run_async(coro: Coroutine[Any, Any, list[Figure]]) -> list[Figure]:
    """Run on the event loop the services use (uvloop when installed, as run_service does)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # First pass: which benchmarks, so only their modules are imported (some are heavy).
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("names", nargs="*")
    known, _ = pre.parse_known_args(argv)
    names = known.names or []
    if "all" in names:
        names = available()
    unknown = [n for n in names if importlib.util.find_spec(f"bench.{n}") is None]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available())}")
        return 2

    modules: dict[str, ModuleType] = {n: importlib.import_module(f"bench.{n}") for n in names}
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="+", help=f"benchmarks, or all ({', '.join(available())})")
    parser.add_argument("--json", action="store_true", help="one JSON object per line per figure")
    parser.add_argument("--out", type=Path, help="also write every figure to this JSON file")
    for module in modules.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.out is None and "all" in args.names:
        args.out = DEFAULT_OUT

    results: dict[str, list[Figure]] = {}
    for name, module in modules.items():
        figures = run_async(module.run(args))
        results[name] = figures
        emit(figures, args.json, title=name)
    if args.out:
        write_json(args.out, results)
        if not args.json:
            print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
