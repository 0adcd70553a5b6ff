"""Redis clients, made one way for every process."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import TimeoutError as RedisTimeoutError

from scrai.settings import Settings

hiredis: ModuleType | None
try:
    import hiredis
except ImportError:  # pragma: no cover - hiredis is a dependency; stay correct without it
    hiredis = None


class _HiredisPacking:
    """Pack commands with hiredis (C) instead of redis-py's asyncio packer (Python).

    redis-py's asyncio connection encodes every argument in Python; a consumer batch
    sends thousands (event ids to check, mark and ack), which made packing a fifth of
    a consumer's CPU. hiredis produces the same bytes; anything it refuses (bool,
    None, unencodable text) goes to redis-py's packer, which raises its usual error.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if hiredis is not None:
            command = args[0]
            if isinstance(command, str):
                args = (*command.encode().split(), *args[1:])
            elif isinstance(command, bytes) and b" " in command:
                args = (*command.split(), *args[1:])
            try:
                return [hiredis.pack_command(args)]
            except (TypeError, UnicodeError):
                pass
        return super().pack_command(*args)  # type: ignore[misc]

    if sys.version_info < (3, 12):

        async def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            """Send under ``asyncio.timeout`` rather than redis-py's ``asyncio.wait_for``.

            On Python 3.11, ``wait_for`` drops a cancellation that arrives as the send
            completes (CPython gh-86296): the cancelled task runs on as if nothing
            happened, so a stopped consumer or poller keeps going. ``asyncio.timeout``
            has no such window. Errors map as redis-py maps them.
            """
            timeout = self.socket_timeout  # type: ignore[attr-defined]
            if not timeout:
                return await super().send_packed_command(command, check_health)  # type: ignore[misc]
            self.socket_timeout = None  # type: ignore[attr-defined]
            try:
                async with asyncio.timeout(timeout):
                    await super().send_packed_command(command, check_health)  # type: ignore[misc]
            except TimeoutError:
                await self.disconnect(nowait=True)  # type: ignore[attr-defined]
                raise RedisTimeoutError("Timeout writing to socket") from None
            finally:
                self.socket_timeout = timeout  # type: ignore[attr-defined]


class FastConnection(_HiredisPacking, Connection):
    pass


class FastUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


class FastSSLConnection(_HiredisPacking, SSLConnection):
    pass


class _OncePipeline(Pipeline):
    """A pipeline whose MULTI/EXEC is sent at most once.

    redis-py re-sends a whole transaction after a connection error unless it WATCHes.
    But an error while reading the reply says nothing of whether EXEC ran: a server
    that applied it and died before answering would get it again from the retry and
    apply it twice (two copies of a committed tick). So a transaction's error goes to
    the caller, who reads back what Redis has before trying again. Single commands and
    plain pipelines keep the client's retries: most read or set, and an action appended
    twice carries one event id, which its reader dedupes.
    """

    async def _disconnect_raise_on_watching(
        self, conn: Connection, error: Exception, *args: Any, **kwargs: Any
    ) -> None:
        await super()._disconnect_raise_on_watching(conn, error, *args, **kwargs)
        if self.is_transaction or self.explicit_transaction:
            raise error


class _Redis(aioredis.Redis):
    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return _OncePipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


_CONNECTION_CLASSES = {
    "redis": FastConnection,
    "unix": FastUnixConnection,
    "rediss": FastSSLConnection,
}


def connect(settings: Settings, *, block_ms: int | None = None) -> aioredis.Redis:
    """An asyncio client for ``settings.redis_url`` with string responses.

    ``block_ms``: the longest ``BLOCK`` this client will issue; its socket timeout is
    set well above it, so a blocking read never trips the client's own timeout.
    """
    if not settings.redis_url:
        raise RuntimeError("SCRAI_REDIS_URL is not set (scrai up starts an embedded server)")
    socket_timeout = 10.0 + (block_ms or 0) / 1000
    options: dict[str, Any] = {}
    connection_class = _CONNECTION_CLASSES.get(urlparse(settings.redis_url).scheme)
    if connection_class is not None:
        options["connection_class"] = connection_class
    return _Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        # Retries here cover a single dropped connection; consumers add their own
        # capped backoff around whole loops for a server that is gone for longer.
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        **options,
    )
