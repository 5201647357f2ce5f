"""One connection to Redis: send a payload, read a number of replies.

Plain TCP and unix sockets are driven directly (non-blocking socket calls, then
`anyio.wait_readable` / `anyio.wait_writable` when the kernel has nothing yet): on both
backends a round trip then costs one trip through the scheduler, the wait for the
server. TLS connections go through an anyio `TLSStream`.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any

import anyio
from anyio.abc import ByteStream

from aether.extensions.redis._protocol import RedisConnectionError, Reply, ReplyParser
from aether.extensions.redis._settings import RedisSettings

__all__ = ["Connection", "StaleConnectionError", "open_connection"]

_READ_SIZE = 65536
_CONNECTION_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


class StaleConnectionError(Exception):
    """A pooled connection was found closed before any reply byte arrived."""


class Connection:
    """The transport-independent part: the parser and the round trip."""

    __slots__ = ("parser",)

    def __init__(self) -> None:
        self.parser = ReplyParser()

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def receive(self) -> bytes:
        raise NotImplementedError

    async def abort(self) -> None:
        """Close at once; a reply may still be in flight, so never reuse it."""
        raise NotImplementedError

    async def round_trip(self, payload: bytes, count: int, *, reused: bool) -> list[Reply]:
        """Send ``payload`` and read ``count`` replies (error replies included).

        Raises:
            StaleConnectionError: If ``reused`` and the server had closed the connection.
            RedisConnectionError: If the connection broke.
        """
        replies: list[Any] = []
        parser = self.parser
        received = False
        try:
            await self.send(payload)
            while len(replies) < count:
                done, reply = parser.next_reply()
                if done:
                    replies.append(reply)
                    continue
                parser.feed(await self.receive())
                received = True
        except _CONNECTION_ERRORS as error:
            if reused and not received:
                raise StaleConnectionError from error
            raise RedisConnectionError(
                f"the connection to Redis broke during a command ({type(error).__name__}: "
                f"{error}); check that the server is up"
            ) from error
        return replies


class _SocketConnection(Connection):
    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    async def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                await anyio.wait_writable(self.sock)
                continue
            view = view[sent:]

    async def receive(self) -> bytes:
        while True:
            try:
                data = self.sock.recv(_READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(self.sock)
                continue
            if not data:
                raise anyio.EndOfStream
            return data

    async def abort(self) -> None:
        anyio.notify_closing(self.sock)
        self.sock.close()


class _StreamConnection(Connection):
    __slots__ = ("stream",)

    def __init__(self, stream: ByteStream) -> None:
        super().__init__()
        self.stream = stream

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> bytes:
        return await self.stream.receive(_READ_SIZE)

    async def abort(self) -> None:
        await anyio.aclose_forcefully(self.stream)


async def _connect_socket(family: int, address: Any) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.connect(address)
        except (BlockingIOError, InterruptedError):
            await anyio.wait_writable(sock)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error)) from None
    except BaseException:
        sock.close()
        raise
    return sock


async def open_connection(
    settings: RedisSettings, *, ssl_context: ssl.SSLContext | None
) -> Connection:
    """Connect to the server ``settings`` names (no handshake).

    Raises:
        OSError: If no address accepted the connection.
    """
    if settings.unix_path is not None:
        return _SocketConnection(await _connect_socket(socket.AF_UNIX, settings.unix_path))
    if settings.tls:
        stream = await anyio.connect_tcp(
            settings.host,
            settings.port,
            tls=True,
            ssl_context=ssl_context,
            tls_standard_compatible=False,
        )
        return _StreamConnection(stream)
    addresses = await anyio.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    last_error: OSError | None = None
    for family, _type, _proto, _name, address in addresses:
        try:
            return _SocketConnection(await _connect_socket(family, address))
        except OSError as error:
            last_error = error
    raise last_error or OSError(f"no address found for {settings.host}")
