"""A lean HTTP/1.1 transport for the SDK clients Aether builds: h11 on anyio streams.

httpx2's default transport sends through httpcore2, whose pool walks every connection
on each request (about 40% of the CPU at 500 concurrent calls) and wraps each read in
several layers. This transport keeps the SDK and httpx2 above it (request building,
auth, error mapping, redirects and the origin guard stay theirs) and replaces only the
wire: one ``h11.Connection`` per socket, and per origin a deque of idle connections,
so taking or returning a connection costs the same with 1 or 1000 of them open. h11
writes the request and parses the response's head; a chunked or sized body is read
here (`_chunks`), as h11's event machinery cost about half of each streamed chunk.

What it does, and how it differs from httpcore2's pool:

- HTTP/1.1 only (what httpx2 speaks by default too); ``http`` and ``https`` origins,
  TLS through the process's shared context.
- Timeouts by phase from the request's ``timeout`` extension: ``pool`` (waiting for a
  free slot), ``connect``, ``write``, ``read`` (each read of the socket).
- At most ``max_connections`` open at once; up to ``max_keepalive`` idle ones per
  origin are kept for ``keepalive_expiry`` seconds. An idle connection the server
  closed (readable while idle) is discarded when taken, never used.
- A body not read to its end (an abandoned or cancelled stream) closes its connection:
  a half-read HTTP/1.1 connection cannot be reused.

Written here rather than taken from a library because the one job, a non-scanning
pool under an SDK's httpx-shaped client on both asyncio and trio, is what httpcore2
(the library) does slowly; h11 does the protocol.
"""

from __future__ import annotations

import select
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import anyio
import anyio.abc
import h11
import httpx2

from aether.extensions.llm._http import shared_ssl_context

__all__ = ["LeanTransport"]

_READ_SIZE = 65536
_HEX = b"0123456789abcdefABCDEF"


def _phase(timeouts: dict[str, Any], name: str) -> float:
    value = timeouts.get(name)
    return float("inf") if value is None else float(value)


def _reason(error: BaseException) -> str:
    """What went wrong on the socket: anyio's errors carry the OSError as their cause."""
    cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
    return str(cause) or type(cause).__name__


def _dead_while_idle(stream: anyio.abc.ByteStream) -> bool:
    """Whether an idle connection's socket is readable: closed by the server (or junk)."""
    # poll(), not select(), where there is one: select() refuses descriptors above 1024,
    # which a pool of a thousand connections reaches.
    sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
    if sock is None or sock.fileno() < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock], [], [], 0)  # Windows: no poll(), no such limit
    return bool(readable)


class _Connection:
    __slots__ = ("h11", "idle_since", "origin", "stream")

    def __init__(self, origin: tuple[bytes, bytes, int], stream: anyio.abc.ByteStream) -> None:
        self.origin = origin
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0


class LeanTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport: HTTP/1.1 over h11 and anyio, one idle deque per origin."""

    def __init__(
        self,
        *,
        max_connections: int = 1000,
        max_keepalive: int = 1000,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._max_connections = max_connections
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[bytes, bytes, int], deque[_Connection]] = {}
        self._slots: anyio.Semaphore | None = None
        self._open = 0
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or serving a request (for tests and diagnostics)."""
        return self._open

    @property
    def idle_connections(self) -> int:
        """Idle connections kept for reuse."""
        return sum(len(idle) for idle in self._idle.values())

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._closed:
            raise RuntimeError("the transport was closed")
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        port = url.port or (443 if scheme == b"https" else 80)
        origin = (scheme, url.raw_host, port)
        if self._slots is None:
            self._slots = anyio.Semaphore(self._max_connections)
        with anyio.move_on_after(_phase(timeouts, "pool")) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            raise httpx2.PoolTimeout("no free connection in time", request=request)
        try:
            connection = await self._take_idle(origin) or await self._connect(
                origin, timeouts, request
            )
        except BaseException:
            self._slots.release()
            raise
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        try:
            response = await self._exchange(connection, request, body, timeouts)
        except BaseException:
            await self._discard(connection)
            raise
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Body(
                self,
                connection,
                request,
                _phase(timeouts, "read"),
                _body_framing(request, response),
            ),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
        )

    async def _take_idle(self, origin: tuple[bytes, bytes, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used: least likely timed out
            if now - connection.idle_since < self._keepalive_expiry and not _dead_while_idle(
                connection.stream
            ):
                return connection
            self._open -= 1
            await anyio.aclose_forcefully(connection.stream)
        return None

    async def _connect(
        self, origin: tuple[bytes, bytes, int], timeouts: dict[str, Any], request: httpx2.Request
    ) -> _Connection:
        scheme, host, port = origin
        hostname = host.decode("ascii")
        try:
            with anyio.fail_after(_phase(timeouts, "connect")):
                if scheme == b"https":
                    stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                        hostname,
                        port,
                        ssl_context=shared_ssl_context(),
                        tls_hostname=hostname,
                        tls_standard_compatible=False,
                    )
                else:
                    stream = await anyio.connect_tcp(hostname, port)
        except TimeoutError as error:
            raise httpx2.ConnectTimeout(
                f"connecting to {hostname} timed out", request=request
            ) from error
        except OSError as error:
            raise httpx2.ConnectError(
                f"cannot connect to {hostname}: {error}", request=request
            ) from error
        self._open += 1
        return _Connection(origin, stream)

    async def _exchange(
        self,
        connection: _Connection,
        request: httpx2.Request,
        body: bytes,
        timeouts: dict[str, Any],
    ) -> h11.Response:
        conn = connection.h11
        headers = [(name, value) for name, value in request.headers.raw]
        if body and request.headers.get("content-length") is None:
            headers.append((b"content-length", str(len(body)).encode("ascii")))
        target = request.url.raw_path
        data = conn.send(h11.Request(method=request.method, target=target, headers=headers))
        if body:
            data += conn.send(h11.Data(data=body))
        data += conn.send(h11.EndOfMessage())
        try:
            with anyio.fail_after(_phase(timeouts, "write")):
                await connection.stream.send(data)
        except TimeoutError as error:
            raise httpx2.WriteTimeout("sending the request timed out", request=request) from error
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
            raise httpx2.WriteError(
                f"sending the request failed: {_reason(error)}", request=request
            ) from error
        read_timeout = _phase(timeouts, "read")
        while True:
            event = await _next_event(connection, request, read_timeout)
            if isinstance(event, h11.Response):
                return event
            # an informational (1xx) answer: wait for the real one

    async def _release(self, connection: _Connection) -> None:
        """Give back a connection whose exchange ended cleanly: reusable if both sides agree."""
        assert self._slots is not None
        self._slots.release()
        conn = connection.h11
        idle = self._idle.setdefault(connection.origin, deque())
        if not self._closed and len(idle) < self._max_keepalive:
            # Both sides done (h11 read the body), or a fresh h11 (the body was read here).
            done = conn.our_state is h11.DONE and conn.their_state is h11.DONE
            if done or (conn.our_state is h11.IDLE and conn.their_state is h11.IDLE):
                if done:
                    conn.start_next_cycle()
                connection.idle_since = time.monotonic()
                idle.append(connection)
                return
        self._open -= 1
        await anyio.aclose_forcefully(connection.stream)

    async def _discard(self, connection: _Connection) -> None:
        """Close a connection that cannot be reused (half-read, failed, cancelled)."""
        assert self._slots is not None
        self._slots.release()
        self._open -= 1
        await anyio.aclose_forcefully(connection.stream)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                self._open -= 1
                await anyio.aclose_forcefully(connection.stream)


async def _receive(connection: _Connection, request: httpx2.Request, read_timeout: float) -> bytes:
    """One read of the socket (``b""`` at its end), with httpx2's error classes."""
    try:
        with anyio.fail_after(read_timeout):
            return await connection.stream.receive(_READ_SIZE)
    except anyio.EndOfStream:
        return b""
    except TimeoutError as error:
        raise httpx2.ReadTimeout("reading the response timed out", request=request) from error
    except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
        raise httpx2.ReadError(
            f"reading the response failed: {_reason(error)}", request=request
        ) from error


async def _next_event(connection: _Connection, request: httpx2.Request, read_timeout: float) -> Any:
    conn = connection.h11
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as error:
            raise httpx2.RemoteProtocolError(str(error), request=request) from error
        if event is not h11.NEED_DATA:
            return event
        data = await _receive(connection, request, read_timeout)
        if not data and conn.their_state is h11.SEND_RESPONSE:
            raise httpx2.RemoteProtocolError(
                "the server closed the connection without answering", request=request
            )
        conn.receive_data(data)


def _body_framing(request: httpx2.Request, response: h11.Response) -> int | None:
    """How the body ends, when this module reads it itself: -1 for chunked, else its
    length; ``None`` leaves it to h11 (no body, a body ended by closing, anything odd).

    h11 turns every piece of a body into an event through its state machine: about half
    the transport's cost per streamed chunk. A chunked or sized body is simple enough to
    read straight from the buffer.
    """
    if request.method == "HEAD" or response.status_code in (204, 304):
        return None
    if b"close" in request.headers.get("connection", "").lower().encode():
        return None
    if response.http_version != b"1.1":
        return None
    length: int | None = None
    chunked = False
    for name, value in response.headers:
        if name == b"transfer-encoding":
            if value.strip().lower() != b"chunked" or chunked:
                return None
            chunked = True
        elif name == b"content-length":
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif name == b"connection" and b"close" in value.lower():
            return None  # ends the connection: h11 knows how to say so
    if chunked:
        return None if length is not None else -1
    return length


class _Framing(Exception):
    """A chunked body that breaks HTTP/1.1's framing."""


def _chunks(buffer: bytearray) -> Iterator[bytes | Literal[True]]:
    """Parse complete chunks from the front of ``buffer``: yields each chunk's bytes, then
    ``True`` once the last chunk and the trailers have been read; stops when more data is
    needed (what it consumed is removed from ``buffer``)."""
    while True:
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > 4096:
                raise _Framing("a chunk size line longer than 4096 bytes")
            return
        line = bytes(buffer[:end]).split(b";", 1)[0].strip()
        if not line or line.strip(_HEX) or len(line) > 16:
            raise _Framing(f"a chunk size that is not hexadecimal: {line[:40]!r}")
        size = int(line, 16)
        if size == 0:
            # The last chunk, then trailer fields up to an empty line.
            trailers = buffer.find(b"\r\n\r\n", end)
            if trailers < 0:
                if len(buffer) > 65536:
                    raise _Framing("trailer fields longer than 65536 bytes")
                return
            del buffer[: trailers + 4]
            yield True
            return
        start = end + 2
        if len(buffer) < start + size + 2:
            return
        if buffer[start + size : start + size + 2] != b"\r\n":
            raise _Framing("a chunk not followed by CRLF")
        data = bytes(buffer[start : start + size])
        del buffer[: start + size + 2]
        yield data


class _Body(httpx2.AsyncByteStream):
    """A response body; its connection goes back to the pool once read to the end."""

    __slots__ = ("_connection", "_done", "_framing", "_read_timeout", "_request", "_transport")

    def __init__(
        self,
        transport: LeanTransport,
        connection: _Connection,
        request: httpx2.Request,
        read_timeout: float,
        framing: int | None,
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._request = request
        self._read_timeout = read_timeout
        self._framing = framing
        self._done = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        # One generator, not one inside another: the body is read per streamed chunk.
        return self._h11_body() if self._framing is None else self._framed(self._framing)

    async def _h11_body(self) -> AsyncIterator[bytes]:
        if self._done:
            return
        connection = self._connection
        while True:
            event = await _next_event(connection, self._request, self._read_timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                await self._transport._release(connection)
                return
            elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                self._done = True
                await self._transport._discard(connection)
                return

    async def _framed(self, framing: int) -> AsyncIterator[bytes]:
        """A chunked (``framing`` -1) or sized body, read from the socket without h11."""
        if self._done:
            return
        connection = self._connection
        received, _ = connection.h11.trailing_data  # what h11 read past the headers
        buffer = bytearray(received)
        request = self._request
        remaining = framing
        while True:
            if framing < 0:
                try:
                    for data in _chunks(buffer):
                        if data is True:
                            remaining = 0
                            break
                        yield data
                except _Framing as error:
                    raise httpx2.RemoteProtocolError(str(error), request=request) from None
            elif buffer:
                data = bytes(buffer[:remaining])
                del buffer[:remaining]
                remaining -= len(data)
                yield data
            if remaining == 0:
                break
            more = await _receive(connection, request, self._read_timeout)
            if not more:
                raise httpx2.RemoteProtocolError(
                    "the server closed the connection before the end of the body",
                    request=request,
                )
            buffer += more
        self._done = True
        if buffer:  # bytes after the body: nothing was asked for, so it cannot be reused
            await self._transport._discard(connection)
            return
        connection.h11 = h11.Connection(h11.CLIENT)  # a fresh cycle for the next request
        await self._transport._release(connection)

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            await self._transport._discard(self._connection)
