"""A `MockServer` behind a real TCP socket, so faults go through the real HTTP transport.

`MockTransport` stands in for the network; this server takes its place on 127.0.0.1
with plain HTTP/1.1 (every body chunked), serving the same scripts through the same wire
formats. What the transport itself does then shows: the read timeout firing on a silent
server, a connection reset by the peer (an RST, from ``SO_LINGER`` 0), a peer that
closes cleanly mid-body, and whether the client closed its connections.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any

import anyio
import httpx2
from anyio.abc import SocketAttribute, SocketStream

from aether.testing.wire import MockServer

__all__ = ["LoopbackServer"]

_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class _Reader:
    """Bytes received and not yet parsed; reads never lose data when cancelled."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def fill(self) -> bool:
        """Receive more bytes; ``False`` once the client has closed its side."""
        try:
            data = await self.stream.receive()
        except _GONE:
            return False
        self.buffer += data
        return True

    async def until(self, delimiter: bytes) -> bytes | None:
        while (end := self.buffer.find(delimiter)) < 0:
            if not await self.fill():
                return None
        head = bytes(self.buffer[: end + len(delimiter)])
        del self.buffer[: end + len(delimiter)]
        return head

    async def exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not await self.fill():
                return None
        body = bytes(self.buffer[:size])
        del self.buffer[:size]
        return body


class LoopbackServer:
    """Serves ``mock`` (its script, its wire format) on a loopback port.

    ``mock`` may be any callable that answers an ``httpx2.Request`` as a `MockServer`
    does (with an ``httpx2.Response``, or an awaitable for a request held unanswered).

    Attributes:
        open_connections: Connections the client has not closed yet.
        closed_connections: Connections that ended (the client left, or a reset).
        resets: Connections the server reset (a `ConnectionReset` in the script).
    """

    def __init__(self, mock: MockServer | Callable[[httpx2.Request], Any]) -> None:
        self.mock = mock
        self.port = 0
        self.open_connections = 0
        self.closed_connections = 0
        self.resets = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LoopbackServer]:
        """Listen until the block ends; connections still open then are dropped."""
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self._connection)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()

    async def _connection(self, stream: SocketStream) -> None:
        self.open_connections += 1
        reader = _Reader(stream)
        try:
            while await self._exchange(stream, reader):
                pass
        finally:
            self.open_connections -= 1
            self.closed_connections += 1
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _exchange(self, stream: SocketStream, reader: _Reader) -> bool:
        """Answer one request; ``False`` when the connection is over."""
        head = await reader.until(b"\r\n\r\n")
        if head is None:
            return False
        request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        method, target, _ = request_line.split(" ", 2)
        headers = [tuple(line.split(": ", 1)) for line in header_lines]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        body = await reader.exactly(length)
        if body is None:
            return False
        request = httpx2.Request(method, self.url + target, headers=headers, content=body)
        answer = self.mock(request)
        finished = False
        async with anyio.create_task_group() as group:

            async def watch_client() -> None:
                # Mid-answer the client sends nothing; a read that ends means it left.
                while await reader.fill():
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_client)
            try:
                finished = await self._answer(stream, answer)
            except _GONE:  # the client left while the answer was being written
                finished = False
            group.cancel_scope.cancel()
        return finished

    async def _answer(self, stream: SocketStream, answer: Any) -> bool:
        if not isinstance(answer, httpx2.Response):
            # A request the script holds unanswered: the client's timeout (or its
            # cancellation) ends it, and the watcher sees the client leave.
            await _as_awaitable(answer)
            return False
        reason = answer.reason_phrase or "OK"
        lines = [f"HTTP/1.1 {answer.status_code} {reason}"]
        lines += [
            f"{name}: {value}"
            for name, value in answer.headers.items()
            if name.lower() not in ("content-length", "transfer-encoding")
        ]
        lines.append("Transfer-Encoding: chunked")
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            async with aclosing(answer.stream.__aiter__()) as pieces:  # type: ignore[attr-defined]
                async for piece in pieces:
                    if piece:  # an empty chunk would be the last one, ending the body early
                        await stream.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        except httpx2.ReadError:
            self._reset(stream)
            return False
        finally:
            await answer.aclose()
        await stream.send(b"0\r\n\r\n")
        return True

    def _reset(self, stream: SocketStream) -> None:
        """Make the close an RST: the client's next read fails with ECONNRESET."""
        raw = stream.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.resets += 1


async def _as_awaitable(answer: Awaitable[Any]) -> None:
    await answer
