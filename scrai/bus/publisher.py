"""Putting events on a stream: one, or a batch in one round trip."""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from scrai.events import Event


async def publish(redis: aioredis.Redis, stream: str, event: Event) -> str:
    """Append one event; returns its stream id.

    Never trims on the way in: retention is :func:`scrai.bus.trim`'s job, which
    knows what every consumer group still has to read.
    """
    return await redis.xadd(stream, event.to_fields())  # type: ignore[arg-type,return-value]


async def publish_many(redis: aioredis.Redis, stream: str, events: Iterable[Event]) -> list[str]:
    """Append a batch in one round trip; returns the stream ids in order.

    The XADDs are packed together and written at once, and the replies read back
    in order: what a redis-py pipeline does, without its per-command bookkeeping
    (which cost more than building the entries). A connection error retries the
    batch with the client's retry policy; an entry written twice that way carries
    the same ``event_id``, which consumers skip.
    """
    commands = []
    for event in events:
        args: list[str] = ["XADD", stream, "*"]
        for pair in event.to_fields().items():
            args += pair
        commands.append(args)
    if not commands:
        return []

    async def send() -> list[str]:
        pool = redis.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(connection.pack_commands(commands))
            ids: list[str] = []
            error: ResponseError | None = None
            for _ in commands:
                try:
                    ids.append(await connection.read_response())
                except ResponseError as exc:  # the other replies are still to be read
                    error = error or exc
            if error is not None:
                raise error
            return ids
        except ResponseError:  # every reply was read: the connection is in step
            raise
        except BaseException:
            # Replies left unread would answer the next command on this connection.
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    retry = redis.get_retry() if hasattr(redis, "get_retry") else None
    if retry is None:
        return await send()
    return await retry.call_with_retry(send, lambda _error: None)
