"""httpx2 pieces the built-in wire formats share: responses, tracked SSE bodies, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import anyio.lowlevel
import httpx2

from aether.testing.wire import ConnectionFailure, MockServer, Script, ScriptedTimeout

__all__ = [
    "TrackedBody",
    "json_response",
    "mock_transport",
    "raise_if_transport_failure",
    "request_json",
    "sse_response",
]


class TrackedBody(httpx2.AsyncByteStream):
    """A streamed body that tells its `MockServer` when it is closed.

    Each event is delivered in two pieces, so the SDK's SSE decoder must reassemble
    events that straddle network reads, as it must with a real server.
    """

    def __init__(self, events: list[bytes], server: MockServer, *, stall: bool = False) -> None:
        self._events = events
        self._server = server
        self._stall = stall
        self._closed = False
        server.open_streams += 1

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self._events:
            middle = len(event) // 2
            yield event[:middle]
            yield event[middle:]
        if self._stall:
            await anyio.sleep_forever()

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
    events: list[bytes], server: MockServer, *, stall: bool = False
) -> httpx2.Response:
    """A ``text/event-stream`` response delivering ``events`` through a `TrackedBody`."""
    return httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        stream=TrackedBody(events, server, stall=stall),
    )


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
