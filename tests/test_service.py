"""What every long-running process gets from ``run_service``: here, giving memory back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scrai.service import malloc_trim, trim_heap_every


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_trim_gives_freed_heap_pages_back_to_the_system() -> None:
    trim = malloc_trim()
    if trim is None:
        pytest.skip("this C library has no malloc_trim (not glibc)")
    # ~100 MB of blocks too big for pymalloc, so they come from the C heap; the last one
    # stays, as a batch's survivors do, so the heap cannot shrink from its top by itself.
    blocks = [bytes(2_000) for _ in range(50_000)]
    survivor = blocks[-1]
    held = rss_mb()
    del blocks
    assert rss_mb() > held - 20, "glibc gave the pages back by itself: nothing to test"
    trim()
    assert rss_mb() < held - 80
    assert len(survivor) == 2_000


async def test_trimming_stops_with_the_service() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(trim_heap_every(0.01, stop))
    done, _ = await asyncio.wait({task}, timeout=0.1)  # a few rounds: it goes on by itself
    assert not done
    stop.set()
    await asyncio.wait_for(task, timeout=5)
