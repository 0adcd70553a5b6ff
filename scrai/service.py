"""How every long-running ScrAI process starts and stops.

The first SIGTERM/SIGINT sets an ``asyncio.Event`` and the service finishes what
it is doing; a second one forces the exit. Logging is configured once here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable


def configure_logging(component: str) -> None:
    level = os.environ.get("SCRAI_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {component} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def install_stop_signals(stop: asyncio.Event) -> None:
    """First signal: graceful stop. Second: immediate exit."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            logging.getLogger(__name__).warning("second signal: exiting now")
            os._exit(128 + signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


# Young-generation collections every this many net allocations instead of 700.
YOUNG_COLLECTION_EVERY = 20_000


def tune_gc() -> None:
    """The cycle collector's settings for a long-running process (process-wide).

    What exists at start-up (modules, classes) lives as long as the process: frozen
    out of the generations, collections stop walking it. And every consumer holds a
    batch of parsed events (a dozen objects each) while it handles it: collecting
    every 700 allocations walked them again and again (a tenth of a consumer's
    instructions per event); every 20,000, a batch is freed before one is due.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, YOUNG_COLLECTION_EVERY), gen1, gen2)


# Seconds between two returns of the C heap's free memory to the system.
TRIM_EVERY_S = 10.0


def malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none (musl, macOS).

    A consumer frees a whole batch at once, but glibc keeps the freed pages of its heap
    for the next allocation unless they lie at the top: a process's resident memory then
    grows with the fragments of past batches. ``malloc_trim`` gives back every free page.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except AttributeError:
        return None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


async def trim_heap_every(seconds: float, stop: asyncio.Event) -> None:
    """Return the C heap's free pages to the system every ``seconds`` until ``stop``."""
    trim = malloc_trim()
    while trim is not None and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        trim()


def run_service(component: str, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` until it returns; ``stop`` is set on SIGTERM/SIGINT."""
    configure_logging(component)
    tune_gc()

    async def runner() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        trimming = asyncio.create_task(trim_heap_every(TRIM_EVERY_S, stop))
        try:
            await main(stop)
        finally:
            trimming.cancel()

    try:
        import uvloop

        uvloop.run(runner())
    except ImportError:
        asyncio.run(runner())
