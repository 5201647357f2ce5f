"""Lifecycle events and the bus that delivers them.

Ten events, named as strings so they can be logged and compared:

=================  ===========================================================
request.start      before each provider call, streamed or not (each retry attempt,
request.complete   each tool-loop iteration); after it succeeded (for a stream: when
request.error      its final chunk arrived); after it failed
stream.start       when the stream a caller iterates starts; one stream.chunk per
stream.chunk       text delta; stream.complete once, when its final chunk arrives;
stream.complete    stream.error if it fails. Emitted by the client, once per logical
stream.error       stream, whatever retries, fallbacks or tool iterations run inside.
tool.start         around each tool dispatch in the tool loop
tool.complete
tool.error
=================  ===========================================================

Subscribers are sync or async callables taking the event. An exception a subscriber
raises is logged on the ``aether.events`` logger and never reaches the request path.
Async subscribers are awaited in line, in subscription order: keep them quick, or hand
the work to your own queue.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from aether.llm.contracts import (
    LLMRequest,
    LLMResponse,
    StreamChunk,
    TokenCounts,
    ToolCall,
    ToolResult,
    _FlatCounts,
)

__all__ = [
    "ALL_EVENTS",
    "REQUEST_COMPLETE",
    "REQUEST_ERROR",
    "REQUEST_START",
    "STREAM_CHUNK",
    "STREAM_COMPLETE",
    "STREAM_ERROR",
    "STREAM_START",
    "TOOL_COMPLETE",
    "TOOL_ERROR",
    "TOOL_START",
    "Event",
    "EventBus",
    "RequestComplete",
    "RequestError",
    "RequestStart",
    "StreamChunkEvent",
    "StreamComplete",
    "StreamError",
    "StreamStart",
    "Subscriber",
    "ToolComplete",
    "ToolErrorEvent",
    "ToolStart",
]

logger = logging.getLogger("aether.events")

REQUEST_START = "request.start"
REQUEST_COMPLETE = "request.complete"
REQUEST_ERROR = "request.error"
STREAM_START = "stream.start"
STREAM_CHUNK = "stream.chunk"
STREAM_COMPLETE = "stream.complete"
STREAM_ERROR = "stream.error"
TOOL_START = "tool.start"
TOOL_COMPLETE = "tool.complete"
TOOL_ERROR = "tool.error"

ALL_EVENTS: tuple[str, ...] = (
    REQUEST_START,
    REQUEST_COMPLETE,
    REQUEST_ERROR,
    STREAM_START,
    STREAM_CHUNK,
    STREAM_COMPLETE,
    STREAM_ERROR,
    TOOL_START,
    TOOL_COMPLETE,
    TOOL_ERROR,
)

_EVENT_CONFIG = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class Event(BaseModel):
    """Base of every event. ``name`` is one of the ten event names."""

    model_config = _EVENT_CONFIG

    name: ClassVar[str]
    request: LLMRequest


class RequestStart(Event):
    """A provider call is about to be made. ``attempt`` counts from 1."""

    name: ClassVar[str] = REQUEST_START
    attempt: int = 1
    model: str | None = None


class RequestComplete(Event, _FlatCounts):
    """A provider call returned a response.

    ``model`` is the model that answered; ``cost_usd`` its price where known.
    """

    name: ClassVar[str] = REQUEST_COMPLETE
    response: LLMResponse
    duration_seconds: float
    attempt: int = 1
    cost_usd: float | None = None
    model: str | None = None

    @property
    def tokens(self) -> TokenCounts:
        """What this call billed, by kind."""
        return self.response.tokens



class RequestError(Event):
    """A provider call raised."""

    name: ClassVar[str] = REQUEST_ERROR
    error: BaseException
    duration_seconds: float
    attempt: int = 1
    model: str | None = None


class StreamStart(Event):
    """A logical stream started (once, even when the tool loop runs inside it)."""

    name: ClassVar[str] = STREAM_START
    model: str | None = None


class StreamChunkEvent(Event):
    """One text delta reached the consumer. ``index`` counts text chunks from 0."""

    name: ClassVar[str] = STREAM_CHUNK
    chunk: StreamChunk
    index: int


class StreamComplete(Event, _FlatCounts):
    """A logical stream ended normally. ``tokens`` sums every provider call in it."""

    name: ClassVar[str] = STREAM_COMPLETE
    duration_seconds: float
    chunks: int
    model: str | None = None
    finish_reason: str | None = None
    tokens: TokenCounts = TokenCounts()
    cost_usd: float | None = None



class StreamError(Event):
    """A stream failed. ``chunks`` is how many text chunks had been yielded."""

    name: ClassVar[str] = STREAM_ERROR
    error: BaseException
    duration_seconds: float
    chunks: int
    model: str | None = None


class ToolStart(Event):
    """A tool is about to run."""

    name: ClassVar[str] = TOOL_START
    call: ToolCall


class ToolComplete(Event):
    """A tool ran; ``result`` is what goes back to the model."""

    name: ClassVar[str] = TOOL_COMPLETE
    call: ToolCall
    result: ToolResult
    duration_seconds: float


class ToolErrorEvent(Event):
    """A tool failed (raised, timed out, got bad arguments, or does not exist).

    The failure still goes back to the model as a tool result; ``result`` is that result.
    """

    name: ClassVar[str] = TOOL_ERROR
    call: ToolCall
    error: BaseException
    result: ToolResult
    duration_seconds: float


Subscriber = Callable[[Any], None] | Callable[[Any], Awaitable[None]]
_SubscriberT = TypeVar("_SubscriberT", bound=Callable[..., Any])


class EventBus:
    """Delivers events to subscribers. Share one across clients with ``Aether(events=bus)``.

    Subscribe to one name, or to ``"*"`` for every event.
    """

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: dict[str, list[tuple[Callable[[Any], Any], bool]]] = {}

    @overload
    def on(self, name: str) -> Callable[[_SubscriberT], _SubscriberT]: ...

    @overload
    def on(self, name: str, callback: _SubscriberT) -> _SubscriberT: ...

    def on(self, name: str, callback: Any = None) -> Any:
        """Subscribe ``callback`` to ``name``; without a callback, act as a decorator.

        Raises:
            ValueError: If ``name`` is not one of the ten events or ``"*"``.
        """
        if name != "*" and name not in ALL_EVENTS:
            raise ValueError(
                f"unknown event name {name!r}; use one of {', '.join(ALL_EVENTS)} or '*'"
            )

        def subscribe(fn: _SubscriberT) -> _SubscriberT:
            is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
                getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
            )
            # A new list, never an append: an emit in progress keeps iterating the list
            # it started with, so a subscriber added meanwhile gets the next event only.
            self._subscribers[name] = [*self._subscribers.get(name, ()), (fn, is_async)]
            return fn

        if callback is None:
            return subscribe
        return subscribe(callback)

    def off(self, name: str, callback: Callable[..., Any]) -> None:
        """Remove a subscription. Removing one that does not exist does nothing."""
        entries = self._subscribers.get(name)
        if not entries:
            return
        self._subscribers[name] = [entry for entry in entries if entry[0] is not callback]
        if not self._subscribers[name]:
            del self._subscribers[name]

    def wants(self, name: str) -> bool:
        """Whether anyone listens to ``name``; check it before building an event."""
        subscribers = self._subscribers
        return name in subscribers or "*" in subscribers

    async def emit(self, event: Event) -> None:
        """Deliver ``event`` to its subscribers, logging and dropping their exceptions."""
        subscribers = self._subscribers
        targets = subscribers.get(event.name, [])
        wildcard = subscribers.get("*")
        if wildcard:
            targets = [*targets, *wildcard]
        for callback, is_async in targets:
            try:
                if is_async:
                    await callback(event)
                else:
                    result = callback(event)
                    if inspect.isawaitable(result):
                        await result
            except Exception:
                logger.exception(
                    "event subscriber %s failed on %s; the request goes on",
                    getattr(callback, "__qualname__", repr(callback)),
                    event.name,
                )

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}: {len(subs)}" for name, subs in self._subscribers.items())
        return f"EventBus({counts})"
