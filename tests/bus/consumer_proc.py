"""A consumer process for the bus tests: run it with a path, killed and restarted at will.

Its effect, per event, in the same MULTI/EXEC as the ack: ``HINCRBY <effects> <event_id> 1``
and ``INCR <total>``; the test compares them with what it published.

    python tests/bus/consumer_proc.py --stream S --group G --name N [--burst]
        [--batch-size 50] [--claim-idle-ms 30000] [--work-ms 0] [--hold-until-stop]

Reads ``SCRAI_REDIS_URL`` and ``SCRAI_NAMESPACE`` from the environment. Prints
``ready`` once the group exists and ``in-batch`` when ``--hold-until-stop`` holds
its first batch open until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from redis.asyncio.client import Pipeline

from scrai.bus import Consumer, Delivery
from scrai.connection import connect
from scrai.service import run_service
from scrai.settings import Settings


def effect_keys(namespace: str, stream: str) -> tuple[str, str]:
    """The hash of per-event counts and the total counter the handler writes."""
    return f"{namespace}:test:{stream}:effects", f"{namespace}:test:{stream}:total"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stream", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--claim-idle-ms", type=int, default=30_000)
    parser.add_argument("--work-ms", type=float, default=0.0, help="simulated work per batch")
    parser.add_argument("--hold-until-stop", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)

    async def consume(stop: asyncio.Event) -> None:
        settings = Settings()
        redis = connect(settings, block_ms=100)
        effects, total = effect_keys(settings.namespace, args.stream)
        held = False

        async def handler(batch: list[Delivery], tx: Pipeline) -> None:
            nonlocal held
            for delivery in batch:
                tx.hincrby(effects, str(delivery.event.event_id), 1)
            tx.incrby(total, len(batch))
            if args.hold_until_stop and not held:
                held = True
                print("in-batch", flush=True)
                await stop.wait()  # SIGTERM arrives while this batch is open
            if args.work_ms:
                await asyncio.sleep(args.work_ms / 1000)

        consumer = Consumer.from_settings(
            redis,
            settings,
            args.stream,
            args.group,
            args.name,
            handler,
            batch_size=args.batch_size,
            block_ms=100,
            claim_idle_ms=args.claim_idle_ms,
            stop=stop,
        )
        await consumer.ensure_group()
        print("ready", flush=True)
        stats = await consumer.run(burst=args.burst)
        print(f"done handled={stats.handled} duplicates={stats.duplicates}", flush=True)
        await redis.aclose()

    run_service("test-consumer", consume)


if __name__ == "__main__":
    main(sys.argv[1:])
