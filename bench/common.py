"""What every benchmark shares: the figure record, its printing, and a Redis to run on."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Figure:
    """One measured number, beside the baseline it is compared with (if any)."""

    figure: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None

    @classmethod
    def against(cls, figure: str, value: float, unit: str, baseline: float) -> Figure:
        """A figure with its baseline and ``value / baseline``."""
        ratio = value / baseline if baseline else None
        return cls(figure, value, unit, baseline, ratio)


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def print_table(figures: Iterable[Figure], title: str | None = None) -> None:
    """A plain aligned table: figure, value, unit, baseline, ratio."""
    rows = [("figure", "value", "unit", "baseline", "ratio")]
    rows += [
        (
            f.figure,
            _fmt(f.value),
            f.unit,
            _fmt(f.baseline),
            "-" if f.ratio is None else f"{f.ratio:.2f}",
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    if title:
        print(f"\n== {title}")
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        cells += [row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def emit(figures: Iterable[Figure], json_mode: bool, title: str | None = None) -> None:
    """Print figures: one JSON object per line with ``json_mode``, else a table."""
    figures = list(figures)
    if json_mode:
        for f in figures:
            print(json.dumps(asdict(f)), flush=True)
    else:
        print_table(figures, title)


def write_json(path: Path | str, figures_by_bench: dict[str, list[Figure]]) -> None:
    """All figures of a run in one JSON file: a list of objects, each naming its bench."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"bench": name, **asdict(f)} for name, figs in figures_by_bench.items() for f in figs]
    path.write_text(json.dumps(rows, indent=2) + "\n")


@asynccontextmanager
async def bench_redis() -> AsyncIterator[str]:
    """The Redis URL to measure against.

    ``SCRAI_REDIS_URL`` when set; otherwise a private embedded server (AOF with
    ``appendfsync everysec``, as ``scrai up`` runs it), stopped and wiped afterwards.
    """
    url = os.environ.get("SCRAI_REDIS_URL")
    if url:
        yield url
        return
    from scrai.embedded import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="scrai-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", appendfsync="everysec").start()
        try:
            yield server.url
        finally:
            server.stop()


async def timed(work: Awaitable[object] | Callable[[], Awaitable[object]]) -> float:
    """Seconds ``work`` took: a coroutine (idle until awaited) or a function returning one."""
    start = time.perf_counter()
    await (work() if callable(work) else work)
    return time.perf_counter() - start


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))
