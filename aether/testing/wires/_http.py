"""httpx2 pieces the built-in wire formats share: responses, tracked SSE bodies, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Literal, NoReturn

import anyio
import anyio.lowlevel
import httpx2

from aether.testing.wire import (
    ConnectionFailure,
    ConnectionReset,
    Hang,
    MockServer,
    Script,
    ScriptedTimeout,
    TruncatedBody,
)

__all__ = [
    "TrackedBody",
    "fault_response",
    "json_response",
    "mock_transport",
    "raise_if_transport_failure",
    "read_timeout",
    "request_json",
    "sse_response",
]

BodyEnd = Literal["done", "stall", "hang", "reset"]
"""How a tracked body ends: normally, waiting forever, waiting for the read timeout
(then ``ReadTimeout``), or with the connection reset (``ReadError``)."""


def read_timeout(request: Any) -> float | None:
    """The read timeout an httpx2 request carries (``None``: it waits forever)."""
    timeouts = getattr(request, "extensions", {}).get("timeout") or {}
    value = timeouts.get("read")
    return float(value) if isinstance(value, int | float) else None


async def _wait_out(request: Any) -> NoReturn:
    """Wait as a silent server makes a client wait: until its read timeout, if any."""
    seconds = read_timeout(request)
    await (anyio.sleep_forever() if seconds is None else anyio.sleep(seconds))
    raise httpx2.ReadTimeout(
        f"scripted hang: nothing arrived within the {seconds:g} s read timeout", request=request
    )


class TrackedBody(httpx2.AsyncByteStream):
    """A streamed body that tells its `MockServer` when it is closed.

    Each event is delivered in two pieces (or in the pieces ``server.split_body``
    cuts), so the SDK's SSE decoder must reassemble events that straddle network reads,
    as it must with a real server. ``end`` says how the body ends after its events.
    """

    def __init__(
        self,
        events: list[bytes],
        server: MockServer,
        *,
        stall: bool = False,
        end: BodyEnd = "done",
    ) -> None:
        self._events = events
        self._server = server
        self._end: BodyEnd = "stall" if stall else end
        self._request = server.http_request
        self._closed = False
        server.open_streams += 1

    def _pieces(self) -> Iterator[bytes]:
        split = self._server.split_body
        if split is not None:
            yield from split(b"".join(self._events))
            return
        for event in self._events:
            middle = len(event) // 2
            yield event[:middle]
            yield event[middle:]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            self._check_open()
            if piece:
                yield piece
        self._check_open()
        if self._end == "stall":
            await anyio.sleep_forever()
        elif self._end == "hang":
            await _wait_out(self._request)
        elif self._end == "reset":
            raise httpx2.ReadError("[Errno 104] Connection reset by peer (scripted)")

    def _check_open(self) -> None:
        # Like a real connection: once the response is closed, a read fails.
        if self._closed:
            raise httpx2.ReadError("the response was closed (scripted)")

    async def aclose(self) -> None:
        # Like httpcore's streams: the close awaits, shielded from cancellation.
        with anyio.CancelScope(shield=True):
            await anyio.lowlevel.checkpoint()
        if not self._closed:
            self._closed = True
            self._server.open_streams -= 1
            self._server.closed_streams += 1


def json_response(
    status: int, body: object, headers: Mapping[str, str] | None = None
) -> httpx2.Response:
    """A JSON response (bytes given as ``body`` are sent as they are)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.Response(
        status,
        headers={"content-type": "application/json", **(headers or {})},
        content=content,
    )


def sse_response(
    events: list[bytes], server: MockServer, *, stall: bool = False, end: BodyEnd = "done"
) -> httpx2.Response:
    """A ``text/event-stream`` response delivering ``events`` through a `TrackedBody`."""
    return httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        stream=TrackedBody(events, server, stall=stall, end=end),
    )


async def _held(server: MockServer) -> NoReturn:
    request = server.http_request
    server.held_requests += 1
    try:
        await _wait_out(request)
    finally:
        server.held_requests -= 1


def fault_response(
    item: Hang | ConnectionReset | TruncatedBody,
    *,
    stream: bool,
    server: MockServer,
    events: list[bytes],
    sent: int,
    body: bytes,
) -> Any:
    """Serve a wire-level fault in any vendor's format.

    Args:
        item: The fault.
        stream: Whether the request asked for a stream.
        server: The server answering.
        events: The SSE events of a whole streamed answer with ``item.text``.
        sent: How many of ``events`` carry the text (and whatever precedes it): they
            are sent before the fault.
        body: The JSON body of the same answer, for a call.

    Returns:
        An ``httpx2.Response``, or an awaitable one (a hang before the headers).
    """
    if isinstance(item, Hang):
        if not stream or not item.text:
            return _held(server)
        return sse_response(events[:sent], server, end="hang")
    if isinstance(item, ConnectionReset):
        if stream:
            return sse_response(events[:sent], server, end="reset")
        cut = TrackedBody([body[: len(body) // 2]], server, end="reset")
        return httpx2.Response(200, headers={"content-type": "application/json"}, stream=cut)
    if stream:
        following = events[sent]
        return sse_response([*events[:sent], following[: len(following) // 2]], server)
    return json_response(200, body[: len(body) // 2])


def raise_if_transport_failure(item: Script, request: Any = None) -> None:
    """Raise httpx2's error for a scripted connection failure or timeout."""
    if isinstance(item, ConnectionFailure):
        raise httpx2.ConnectError("scripted connection failure", request=request)
    if isinstance(item, ScriptedTimeout):
        raise httpx2.ReadTimeout("scripted read timeout", request=request)


def request_json(request: httpx2.Request) -> dict[str, Any]:
    """The JSON body of ``request``."""
    body = json.loads(request.content or b"{}")
    if not isinstance(body, dict):
        raise AssertionError(f"the adapter sent a non-object JSON body: {body!r}")
    return body


class _ServerTransport(httpx2.MockTransport):
    """A mock transport that tells its `MockServer` when the client closes it."""

    async def aclose(self) -> None:
        if isinstance(self.handler, MockServer):
            self.handler.transport_closed = True


def mock_transport(handler: Callable[[Any], Any]) -> httpx2.MockTransport:
    """An ``httpx2.MockTransport`` calling ``handler`` for every request."""
    return _ServerTransport(handler)
