"""A small Redis client on anyio sockets: works on asyncio and on trio alike.

redis-py's asyncio client runs on asyncio only, so Aether speaks RESP2 itself over
sockets driven through anyio (see ``_connection``). The client keeps a pool of connections; each
command (or pipeline, or script call) borrows one for a single round trip. A connection
whose round trip was interrupted (cancelled, timed out, broken) may still have a reply in
flight, so it is closed, never returned to the pool.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Sequence
from types import TracebackType

import anyio

from aether.errors import ConfigurationError
from aether.extensions.redis._connection import Connection, StaleConnectionError, open_connection
from aether.extensions.redis._protocol import (
    Argument,
    RedisConnectionError,
    RedisReplyError,
    RedisTimeoutError,
    Reply,
    encode_command,
    encode_commands,
)
from aether.extensions.redis._settings import RedisSettings, parse_redis_url

__all__ = ["RedisClient", "RedisScript"]

_READ_SIZE = 65536
_CONNECTION_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


class RedisScript:
    """A Lua script, sent by its SHA1 (``EVALSHA``) and loaded on first use."""

    __slots__ = ("sha1", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha1 = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __repr__(self) -> str:
        return f"RedisScript(sha1={self.sha1[:12]!r})"


class RedisClient:
    """A pooled Redis client for asyncio and trio.

    ::

        async with RedisClient("redis://127.0.0.1:6379/0") as redis:
            await redis.execute("SET", "greeting", "hello")
            assert await redis.execute("GET", "greeting") == b"hello"

    Bulk replies come back as ``bytes``, simple ones (``OK``) as ``str``. A client belongs
    to the event loop that first uses it.

    Args:
        url: ``redis://[user:password@]host[:port][/db]``, ``rediss://...`` for TLS, or
            ``unix:///path/to/socket?db=0``.
        max_connections: The most connections open at once; more concurrent commands wait.
        connect_timeout: Seconds to connect (and authenticate) before giving up.
        timeout: Seconds one round trip may take; ``None`` waits forever.
        ssl_context: The TLS context for ``rediss://`` (the system default otherwise).

    Raises:
        ConfigurationError: On a malformed URL or a non-positive pool size.
    """

    __slots__ = (
        "_closed",
        "_idle",
        "_slots",
        "connect_timeout",
        "max_connections",
        "settings",
        "ssl_context",
        "timeout",
    )

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        max_connections: int = 16,
        connect_timeout: float = 5.0,
        timeout: float | None = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, not {max_connections}")
        self.settings: RedisSettings = parse_redis_url(url)
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._idle: list[Connection] = []
        self._slots = anyio.Semaphore(max_connections, fast_acquire=True)
        self._closed = False

    async def _connect(self) -> Connection:
        settings = self.settings
        try:
            with anyio.fail_after(self.connect_timeout):
                connection = await open_connection(settings, ssl_context=self.ssl_context)
                try:
                    await self._handshake(connection)
                except BaseException:
                    await connection.abort()
                    raise
        except TimeoutError:
            raise RedisTimeoutError(
                f"could not connect to Redis at {settings.describe()} within "
                f"{self.connect_timeout:g}s; check the address and that the server is up"
            ) from None
        except OSError as error:
            raise RedisConnectionError(
                f"could not connect to Redis at {settings.describe()}: {error}; check the "
                f"address and that the server is up"
            ) from error
        return connection

    async def _handshake(self, connection: Connection) -> None:
        settings = self.settings
        commands: list[list[Argument]] = []
        if settings.password is not None:
            auth: list[Argument] = ["AUTH"]
            if settings.username:
                auth.append(settings.username)
            commands.append([*auth, settings.password])
        if settings.database:
            commands.append(["SELECT", settings.database])
        if not commands:
            return
        replies = await connection.round_trip(
            encode_commands(commands), len(commands), reused=False
        )
        for reply in replies:
            if isinstance(reply, RedisReplyError):
                raise RedisReplyError(
                    f"Redis at {settings.describe()} refused the connection set-up: {reply}"
                )

    async def _round_trip(self, payload: bytes, count: int) -> list[Reply]:
        if self._closed:
            raise RedisConnectionError("this RedisClient is closed; make a new one")
        async with self._slots:
            for attempt in range(2):
                reused = attempt == 0 and bool(self._idle)
                connection = self._idle.pop() if reused else await self._connect()
                try:
                    if self.timeout is None:
                        replies = await connection.round_trip(payload, count, reused=reused)
                    else:
                        with anyio.fail_after(self.timeout):
                            replies = await connection.round_trip(payload, count, reused=reused)
                except StaleConnectionError:
                    await connection.abort()
                    continue
                except TimeoutError:
                    await connection.abort()
                    raise RedisTimeoutError(
                        f"Redis at {self.settings.describe()} did not answer within "
                        f"{self.timeout:g}s"
                    ) from None
                except BaseException:
                    # Cancelled or broken mid-way: a reply may still be in flight.
                    await connection.abort()
                    raise
                if self._closed:
                    await connection.abort()
                else:
                    self._idle.append(connection)
                return replies
        raise RedisConnectionError(  # pragma: no cover - two stale connections in a row
            f"the connection to Redis at {self.settings.describe()} closed twice in a row"
        )

    async def execute(self, *arguments: Argument) -> Reply:
        """Run one command and return its reply.

        Raises:
            RedisReplyError: If Redis answered with an error.
            RedisConnectionError: If the connection failed (or timed out).
        """
        (reply,) = await self._round_trip(encode_command(arguments), 1)
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def execute_many(self, commands: Sequence[Sequence[Argument]]) -> list[Reply]:
        """Run several commands in one round trip (a pipeline, not a transaction).

        Raises:
            RedisReplyError: The first error reply, after every reply has been read.
        """
        if not commands:
            return []
        replies = await self._round_trip(encode_commands(commands), len(commands))
        for reply in replies:
            if isinstance(reply, RedisReplyError):
                raise reply
        return replies

    async def run_script(
        self,
        script: RedisScript,
        *,
        keys: Sequence[Argument] = (),
        arguments: Sequence[Argument] = (),
    ) -> Reply:
        """Run a Lua script atomically: ``EVALSHA``, then ``EVAL`` if Redis lacks it."""
        tail = [len(keys), *keys, *arguments]
        try:
            return await self.execute("EVALSHA", script.sha1, *tail)
        except RedisReplyError as error:
            if error.code != "NOSCRIPT":
                raise
        return await self.execute("EVAL", script.source, *tail)

    async def aclose(self) -> None:
        """Close every pooled connection; commands in flight finish on their own."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.abort()

    async def __aenter__(self) -> RedisClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"RedisClient({self.settings.describe()!r}, max_connections={self.max_connections}, "
            f"idle={len(self._idle)})"
        )
