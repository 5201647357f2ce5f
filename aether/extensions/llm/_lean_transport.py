"""A lean HTTP/1.1 transport for the clients the OpenAI adapters build, on anyio streams.

httpx2's default transport sends through httpcore2, whose pool walks every connection
on each request (about 40% of the CPU at 500 concurrent calls) and wraps each read in
several layers. This transport replaces the wire under httpx2 (and under the adapters'
direct path, `aether.extensions.llm._direct_post`): per origin a deque of idle
connections, so taking or returning a connection costs the same with 1 or 1000 of them
open, and HTTP/1.1 written and read here.

What it does, and how it differs from httpcore2's pool:

- HTTP/1.1 only (what httpx2 speaks by default too); ``http`` and ``https`` origins,
  TLS through the process's shared context.
- Timeouts by phase from the request's ``timeout`` extension: ``pool`` (waiting for a
  free slot), ``connect``, ``write``, ``read`` (each read of the socket).
- At most ``max_connections`` open at once; up to ``max_keepalive`` idle ones per
  origin are kept for ``keepalive_expiry`` seconds. An idle connection the server
  closed (readable while idle) is discarded when taken, never used.
- A body not read to its end (an abandoned or cancelled stream) closes its connection:
  a half-read HTTP/1.1 connection cannot be reused. So does an answer that ends the
  connection (``Connection: close``, HTTP/1.0, a body delimited by closing).

The protocol (`_http11`): the request head is written from the request's headers, each
field checked once for what would break the framing (a CR, LF or NUL in a value, a name
that is not a token); the response head is parsed strictly (status line, one field per
line, no obsolete line folding, at most 64 KiB), 1xx answers skipped; a chunked or sized
body is read straight from the buffer. h11 (the library httpcore2 uses) did this before;
its event state machine cost about half the transport's time per call and per streamed
chunk, for the one shape of exchange an API client has (a request, then its answer).

Written here rather than taken from a library because the one job, a non-scanning
pool under an httpx-shaped client on both asyncio and trio, is what httpcore2 (the
library) does slowly, and aiohttp runs on asyncio only.
"""

from __future__ import annotations

import select
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
import httpx2

from aether.extensions.llm._http import shared_ssl_context
from aether.extensions.llm._http11 import (
    HEAD_END,
    MAX_HEAD,
    Framing,
    ResponseHead,
    body_framing,
    chunks,
    parse_head,
    request_head,
)

__all__ = ["LeanTransport"]

_READ_SIZE = 65536


def _phase(timeouts: dict[str, Any], name: str) -> float:
    value = timeouts.get(name)
    return float("inf") if value is None else float(value)


def _reason(error: BaseException) -> str:
    """What went wrong on the socket: anyio's errors carry the OSError as their cause."""
    cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
    return str(cause) or type(cause).__name__


def _dead_while_idle(sock: Any) -> bool:
    """Whether an idle connection's socket is readable: closed by the server (or junk)."""
    # poll(), not select(), where there is one: select() refuses descriptors above 1024,
    # which a pool of a thousand connections reaches.
    if sock is None or sock.fileno() < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock], [], [], 0)  # Windows: no poll(), no such limit
    return bool(readable)


class _Connection:
    __slots__ = ("buffer", "idle_since", "origin", "sock", "stream")

    def __init__(self, origin: tuple[bytes, bytes, int], stream: anyio.abc.ByteStream) -> None:
        self.origin = origin
        self.stream = stream
        self.sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        self.buffer = bytearray()
        """What was read from the socket and not yet parsed."""
        self.idle_since = 0.0


class LeanTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport: HTTP/1.1 on anyio streams, one idle deque per origin."""

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
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        port = url.port or (443 if scheme == b"https" else 80)
        body = getattr(request, "_content", None)
        if body is None:  # a streamed request body: read it whole first
            body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        method = request.method.encode("ascii")
        try:
            head, close = request_head(method, url.raw_path, request.headers.raw, len(body))
        except Framing as error:
            raise httpx2.LocalProtocolError(str(error), request=request) from None
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        origin = (scheme, url.raw_host, port)
        return await self.round_trip(
            origin, method, head + body, timeouts, close=close, request=request
        )

    async def round_trip(
        self,
        origin: tuple[bytes, bytes, int],
        method: bytes,
        data: bytes,
        timeouts: dict[str, Any],
        *,
        close: bool = False,
        request: httpx2.Request | None = None,
    ) -> httpx2.Response:
        """Send a request already written out (head and body, see `_http11`) to ``origin``
        (scheme, host, port); return the answer, its body unread.

        `handle_async_request` writes httpx2's requests this way; the OpenAI adapters'
        direct path writes its own (`aether.extensions.llm._direct_post`). ``close`` says
        the request asked for the connection to close; ``request``, if any, goes into
        httpx2's errors.
        """
        if self._closed:
            raise RuntimeError("the transport was closed")
        slots = self._slots
        if slots is None:
            # max_value: a slot given back twice is an error, never a larger pool.
            slots = self._slots = anyio.Semaphore(
                self._max_connections, max_value=self._max_connections
            )
        if slots.value:
            slots.acquire_nowait()  # a free slot: no waiting, so no timeout scope
        else:
            with anyio.move_on_after(_phase(timeouts, "pool")) as waited:
                await slots.acquire()
            if waited.cancelled_caught:
                raise httpx2.PoolTimeout("no free connection in time", request=request)
        try:
            connection = await self._take_idle(origin) or await self._connect(
                origin, timeouts, request
            )
        except BaseException:
            slots.release()
            raise
        read_timeout = _phase(timeouts, "read")
        try:
            response = await self._exchange(
                connection, request, data, _phase(timeouts, "write"), read_timeout
            )
            framing, reusable = body_framing(method, response, close=close)
        except Framing as error:
            await self._discard(connection)
            raise httpx2.RemoteProtocolError(str(error), request=request) from None
        except BaseException:
            await self._discard(connection)
            raise
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(self, connection, request, read_timeout, framing, reusable),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
        )

    async def _take_idle(self, origin: tuple[bytes, bytes, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        # Taking is newest first, so after a burst the oldest wait at the left end, which
        # taking never reaches while fewer calls come: close those past their expiry.
        while idle and now - idle[0].idle_since >= self._keepalive_expiry:
            self._open -= 1
            await anyio.aclose_forcefully(idle.popleft().stream)
        while idle:
            connection = idle.pop()  # the most recently used: least likely timed out
            if now - connection.idle_since < self._keepalive_expiry and not _dead_while_idle(
                connection.sock
            ):
                return connection
            self._open -= 1
            await anyio.aclose_forcefully(connection.stream)
        return None

    async def _connect(
        self,
        origin: tuple[bytes, bytes, int],
        timeouts: dict[str, Any],
        request: httpx2.Request | None,
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
        except (anyio.EndOfStream, anyio.BrokenResourceError) as error:
            # anyio's words for a TLS handshake the server ended (closed or reset).
            raise httpx2.ConnectError(
                f"cannot connect to {hostname}: the connection ended during the TLS "
                f"handshake ({_reason(error)})",
                request=request,
            ) from error
        self._open += 1
        return _Connection(origin, stream)

    async def _exchange(
        self,
        connection: _Connection,
        request: httpx2.Request | None,
        data: bytes,
        write_timeout: float,
        read_timeout: float,
    ) -> ResponseHead:
        """Send the request; read the answer's head (skipping 1xx ones).

        Raises:
            Framing: If the answer's head is malformed or too long.
        """
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + write_timeout) as scope:
                await connection.stream.send(data)
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
            raise httpx2.WriteError(
                f"sending the request failed: {_reason(error)}", request=request
            ) from error
        if scope.cancelled_caught:
            raise httpx2.WriteTimeout("sending the request timed out", request=request)
        buffer = connection.buffer
        searched = 0
        while True:
            end = HEAD_END.search(buffer, searched)
            if end is None:
                if len(buffer) > MAX_HEAD:
                    raise Framing(f"a response head longer than {MAX_HEAD} bytes")
                searched = max(0, len(buffer) - 2)
                more = await _receive(connection, request, read_timeout)
                if not more:
                    raise httpx2.RemoteProtocolError(
                        "the server closed the connection without answering"
                        if not buffer
                        else "the server closed the connection in the middle of its answer",
                        request=request,
                    )
                buffer += more
                continue
            head = parse_head(bytes(buffer[: end.start()]))
            del buffer[: end.end()]
            searched = 0
            if 100 <= head.status < 200:
                if head.status == 101:
                    raise Framing("the server switched protocols (101), which was not asked")
                continue  # an informational answer: wait for the real one
            return head

    async def _release(self, connection: _Connection) -> None:
        """Give back a connection whose exchange ended cleanly and may be reused."""
        assert self._slots is not None
        self._slots.release()
        idle = self._idle.get(connection.origin)
        if idle is None:
            idle = self._idle[connection.origin] = deque()
        if not self._closed and len(idle) < self._max_keepalive:
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
        # Shielded: each close is a checkpoint, where a cancelled caller (a client closed
        # during shutdown) would otherwise stop after the first and leave the rest open.
        with anyio.CancelScope(shield=True):
            for connections in idle.values():
                for connection in connections:
                    self._open -= 1
                    await anyio.aclose_forcefully(connection.stream)


async def _receive(
    connection: _Connection, request: httpx2.Request | None, read_timeout: float
) -> bytes:
    """One read of the socket (``b""`` at its end), with httpx2's error classes."""
    try:
        if read_timeout == float("inf"):
            return await connection.stream.receive(_READ_SIZE)
        # A cancel scope with a deadline, not fail_after: its context manager costs as
        # much again, once per read.
        with anyio.CancelScope(deadline=anyio.current_time() + read_timeout):
            return await connection.stream.receive(_READ_SIZE)
        raise httpx2.ReadTimeout("reading the response timed out", request=request)
    except anyio.EndOfStream:
        return b""
    except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
        raise httpx2.ReadError(
            f"reading the response failed: {_reason(error)}", request=request
        ) from error


class _Body(httpx2.AsyncByteStream):
    """A response body; its connection goes back to the pool once read to the end."""

    __slots__ = (
        "_connection",
        "_done",
        "_framing",
        "_read_timeout",
        "_request",
        "_reusable",
        "_transport",
    )

    def __init__(
        self,
        transport: LeanTransport,
        connection: _Connection,
        request: httpx2.Request | None,
        read_timeout: float,
        framing: int | None,
        reusable: bool,
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._request = request
        self._read_timeout = read_timeout
        self._framing = framing
        self._reusable = reusable
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's bytes: a chunked (framing -1), sized or close-delimited body."""
        if self._done:
            return
        connection = self._connection
        buffer = connection.buffer
        request = self._request
        framing = self._framing
        remaining = -1 if framing is None else framing
        while remaining:
            if framing == -1:
                try:
                    for data in chunks(buffer):
                        if data is True:
                            remaining = 0
                            break
                        yield data
                        if self._done:
                            return  # closed while paused here: the connection is gone
                except Framing as error:
                    raise httpx2.RemoteProtocolError(str(error), request=request) from None
                if not remaining:
                    break
            elif buffer:
                data = bytes(buffer if remaining < 0 else buffer[:remaining])
                del buffer[: len(data)]
                remaining -= 0 if remaining < 0 else len(data)
                yield data
                if self._done:
                    return  # closed while paused here: the connection is gone
                if not remaining:
                    break
            more = await _receive(connection, request, self._read_timeout)
            if not more:
                if framing is None:
                    break  # a body delimited by closing: this is its end
                raise httpx2.RemoteProtocolError(
                    "the server closed the connection before the end of the body",
                    request=request,
                )
            buffer += more
        if self._done:
            return  # closed (by another task) during the last read: the connection is gone
        self._done = True
        if buffer or not self._reusable:
            # Bytes after the body (nothing was asked for), or an answer that ends the
            # connection: it cannot serve another request.
            await self._transport._discard(connection)
            return
        await self._transport._release(connection)

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            await self._transport._discard(self._connection)
