"""A small Redis client on anyio sockets: works on asyncio and on trio alike.

redis-py's asyncio client runs on asyncio only, so Aether speaks RESP2 itself over
`anyio.connect_tcp` / `anyio.connect_unix`. The client keeps a pool of connections; each
command (or pipeline, or script call) borrows one for a single round trip. A connection
whose round trip was interrupted (cancelled, timed out, broken) may still have a reply in
flight, so it is closed, never returned to the pool.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
from anyio.abc import ByteStream

from aether.errors import ConfigurationError
from aether.extensions.redis._protocol import (
    Argument,
    RedisConnectionError,
    RedisReplyError,
    RedisTimeoutError,
    Reply,
    ReplyParser,
    encode_command,
    encode_commands,
)

__all__ = ["RedisClient", "RedisScript", "RedisSettings", "parse_redis_url"]

_READ_SIZE = 65536
_CONNECTION_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where and how to connect, parsed from a URL. The password never appears in a repr."""

    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str | None = None
    database: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def describe(self) -> str:
        """The address without credentials, for messages and reprs."""
        scheme = "rediss" if self.tls else "redis"
        if self.unix_path is not None:
            return f"unix://{self.unix_path}?db={self.database}"
        user = f"{self.username or ''}:***@" if self.password else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.database}"

    def __repr__(self) -> str:
        return f"RedisSettings({self.describe()!r})"


def parse_redis_url(url: str) -> RedisSettings:
    """Parse ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS) or
    ``unix:///path/to/socket?db=0&password=...``.

    Raises:
        ConfigurationError: If the URL has another scheme or a bad port or database.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    problems: list[str] = []
    database_text = (parts.path.lstrip("/") if parts.scheme != "unix" else "") or (
        query.get("db", ["0"])[0]
    )
    try:
        database = int(database_text)
    except ValueError:
        problems.append(f"the database {database_text!r} is not a number")
        database = 0
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else query.get("password", [None])[0]
    if parts.scheme == "unix":
        if not parts.path:
            problems.append("a unix:// URL needs a socket path, as in unix:///run/redis.sock")
        settings = RedisSettings(
            unix_path=parts.path, database=database, username=username, password=password
        )
    elif parts.scheme in ("redis", "rediss"):
        try:
            port = parts.port or 6379
        except ValueError:
            problems.append("the port is not a number")
            port = 6379
        settings = RedisSettings(
            host=parts.hostname or "127.0.0.1",
            port=port,
            database=database,
            username=username,
            password=password,
            tls=parts.scheme == "rediss",
        )
    else:
        problems.append(f"the scheme {parts.scheme!r} is not redis://, rediss:// or unix://")
        settings = RedisSettings()
    if problems:
        raise ConfigurationError(
            f"invalid Redis URL {settings.describe()!r}: {'; '.join(problems)}",
            problems=problems,
        )
    return settings


class RedisScript:
    """A Lua script, sent by its SHA1 (``EVALSHA``) and loaded on first use."""

    __slots__ = ("sha1", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha1 = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __repr__(self) -> str:
        return f"RedisScript(sha1={self.sha1[:12]!r})"


class _StaleConnectionError(Exception):
    """A pooled connection was found closed before any reply byte arrived."""


class _Connection:
    __slots__ = ("parser", "stream")

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.parser = ReplyParser()

    async def round_trip(self, payload: bytes, count: int, *, reused: bool) -> list[Reply]:
        """Send ``payload`` and read ``count`` replies (error replies included)."""
        replies: list[Any] = []
        received = False
        try:
            await self.stream.send(payload)
            while len(replies) < count:
                done, reply = self.parser.next_reply()
                if done:
                    replies.append(reply)
                    continue
                self.parser.feed(await self.stream.receive(_READ_SIZE))
                received = True
        except _CONNECTION_ERRORS as error:
            if reused and not received:
                raise _StaleConnectionError from error
            raise RedisConnectionError(
                f"the connection to Redis broke during a command ({type(error).__name__}: "
                f"{error}); check that the server is up"
            ) from error
        return replies

    async def abort(self) -> None:
        await anyio.aclose_forcefully(self.stream)


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
        self.settings = parse_redis_url(url)
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._idle: list[_Connection] = []
        self._slots = anyio.Semaphore(max_connections)
        self._closed = False

    async def _connect(self) -> _Connection:
        settings = self.settings
        try:
            with anyio.fail_after(self.connect_timeout):
                stream: ByteStream
                if settings.unix_path is not None:
                    stream = await anyio.connect_unix(settings.unix_path)
                elif settings.tls:
                    stream = await anyio.connect_tcp(
                        settings.host,
                        settings.port,
                        tls=True,
                        ssl_context=self.ssl_context,
                        tls_standard_compatible=False,
                    )
                else:
                    stream = await anyio.connect_tcp(settings.host, settings.port)
                connection = _Connection(stream)
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

    async def _handshake(self, connection: _Connection) -> None:
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
                except _StaleConnectionError:
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
