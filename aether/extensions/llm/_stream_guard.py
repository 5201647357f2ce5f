"""Keeping google-genai's streams closed and clean on asyncio and trio.

google-genai reads a stream through five nested async generators and closes none of the
inner ones when it stops early or fails, which trio reports as ``ResourceWarning`` and
which holds the connection until the garbage collector runs. Installed as a response
hook, the guard wraps each body the SDK opens during a call:

- it checks every SSE event before the SDK sees it, and raises Aether's error for a
  broken event or an error event from the bottom of the stack, so the exception unwinds
  (and finishes) every generator on its way up;
- when the consumer stops early, `StreamGuard.abandon` makes the body end, so the SDK's
  generators run out normally; the adapter then drains them and closes the responses.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx2

from aether.extensions.llm._http import CLEANUP_TIMEOUT, release_body
from aether.extensions.llm._sse import ServerSentEvent, SSEParser

__all__ = ["StreamGuard", "finish_sdk_stream", "install_guard_hook"]

_CURRENT: contextvars.ContextVar[StreamGuard | None] = contextvars.ContextVar(
    "aether_stream_guard", default=None
)


class StreamGuard:
    """The responses one streamed call opened, and how to check and end their bodies.

    Args:
        check: Called with the decoded JSON of every SSE event; raises to fail the
            stream (for an error event). Undecodable data raises ``ValueError``.
    """

    __slots__ = ("_check", "abandoned", "responses")

    def __init__(self, check: Callable[[object], None]) -> None:
        self._check = check
        self.abandoned = False
        self.responses: list[httpx2.Response] = []

    @contextmanager
    def active(self) -> Iterator[None]:
        """Guard every response the SDK opens inside the ``with`` block."""
        token = _CURRENT.set(self)
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def attach(self, response: httpx2.Response) -> None:
        self.responses.append(response)
        if isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = _GuardedBody(response.stream, self)

    def inspect(self, event: ServerSentEvent) -> None:
        """Check one event; raise Aether's error for an error event or broken data."""
        if event.data:
            self._check(json.loads(event.data))

    def abandon(self) -> None:
        """Make the guarded bodies end at their next read."""
        self.abandoned = True

    async def aclose(self) -> None:
        """Close every response the call opened."""
        for response in self.responses:
            await response.aclose()


class _GuardedBody(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, guard: StreamGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._parser = SSEParser()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        iterator = self._inner.__aiter__()
        try:
            # Checked before each read: an abandoned body ends without waiting for data.
            while not self._guard.abandoned:
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    for event in self._parser.flush():
                        self._guard.inspect(event)
                    return
                passed = 0
                for event, end in self._parser.feed_with_ends(chunk):
                    try:
                        self._guard.inspect(event)
                    except Exception:
                        # The events before this one reach the SDK (and their text the
                        # caller) first; then the stream fails from the bottom.
                        if passed:
                            yield chunk[:passed]
                        raise
                    passed = end
                yield chunk
        finally:
            await release_body(iterator, self._inner.aclose)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _hook(response: Any) -> None:
    guard = _CURRENT.get()
    if guard is not None and isinstance(response, httpx2.Response):
        guard.attach(response)


def install_guard_hook(client: Any) -> None:
    """Add the guard's response hook to an httpx2 (or httpx) client, once.

    Outside `StreamGuard.active` the hook does nothing, so it is harmless on a client
    that others share.
    """
    hooks = client.event_hooks
    response_hooks = list(hooks.get("response", []))
    if _hook not in response_hooks:
        client.event_hooks = {**hooks, "response": [*response_hooks, _hook]}


async def finish_sdk_stream(iterator: Any, guard: StreamGuard, *, drain: bool) -> None:
    """Let google-genai's generators finish, then close what the call opened.

    After an early stop (``drain``), the guard ends the body, so the SDK's generators
    run out instead of being abandoned mid-iteration. Shielded, so a cancelled stream
    is cleaned up too; bounded, so a stuck close cannot hang it.
    """
    with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
        if iterator is not None and drain:
            guard.abandon()
            try:
                while await anext(iterator, None) is not None:
                    pass
            except Exception:  # the stream was given up; what it says no longer matters
                pass
        try:
            if iterator is not None:
                await iterator.aclose()
        finally:
            await guard.aclose()
