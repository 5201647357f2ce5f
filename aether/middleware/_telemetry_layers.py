"""The inner layers of `TelemetryMiddleware` and the stream recording they share.

``TelemetryMiddleware.model_calls`` (right inside the tool loop) opens a ``chat`` span per
model call of a tool loop; ``TelemetryMiddleware.attempts`` (right inside retry) records
each failed attempt as an event on the current span. Both read the owner's recorder,
which exists only once OpenTelemetry is configured, and otherwise hand requests on.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.middleware import _telemetry_names as names
from aether.middleware._context import ATTEMPT
from aether.middleware._telemetry_record import Operation, Recorder
from aether.middleware.cache import CACHE_STATUS
from aether.pipeline import CallNext, StreamNext

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = [
    "AttemptLayer",
    "ModelCallLayer",
    "RequestTrace",
    "cache_hit",
    "fail",
    "stream_span",
    "traced_call",
    "traced_stream",
]


class Owner(Protocol):
    """What the inner layers read from their `TelemetryMiddleware`."""

    _recorder: Recorder | None
    _key: str


class SpanMaker(Protocol):
    """A layer that opens a span for a request and ends it with the response."""

    def _open(self, recorder: Recorder, request: LLMRequest, *, stream: bool) -> Operation: ...

    def _finish(
        self, recorder: Recorder, request: LLMRequest, op: Operation, final: Any
    ) -> None: ...


@dataclass(slots=True)
class RequestTrace:
    """The request context's record of an open ``invoke_agent`` span."""

    span: Span
    model_calls: int = 0


def cache_hit(context: dict[str, Any]) -> bool | None:
    status = context.get(CACHE_STATUS)
    return None if status is None else status == "hit"


def fail(recorder: Recorder, op: Operation, error: BaseException) -> None:
    recorder.fail(op, error, cancelled=isinstance(error, anyio.get_cancelled_exc_class()))


async def traced_call(
    maker: SpanMaker, recorder: Recorder, request: LLMRequest, call_next: CallNext
) -> LLMResponse:
    """Await ``call_next(request)`` inside ``maker``'s span, current while the call runs."""
    op = maker._open(recorder, request, stream=False)
    token = recorder.attach(op.span)
    try:
        response = await call_next(request)
    except BaseException as error:
        fail(recorder, op, error)
        raise
    finally:
        recorder.detach(token)
    maker._finish(recorder, request, op, response)
    return response


def stream_span(
    maker: SpanMaker,
    recorder: Recorder,
    request: LLMRequest,
    call_next: StreamNext,
    *,
    attach: bool,
) -> AsyncIterator[StreamChunk]:
    """``call_next(request)`` inside ``maker``'s span (see `traced_stream`)."""
    op = maker._open(recorder, request, stream=True)
    return traced_stream(
        recorder,
        op,
        call_next(request),
        lambda final: maker._finish(recorder, request, op, final),
        attach=attach,
    )


async def traced_stream(
    recorder: Recorder,
    op: Operation,
    inner: AsyncIterator[StreamChunk],
    finish: Callable[[StreamChunk], None],
    *,
    attach: bool,
) -> AsyncIterator[StreamChunk]:
    """``inner`` unchanged, with ``op`` ended at the final chunk, an error, or the close.

    The span is made current only while the first chunk is awaited (the handshake, where
    retry's attempts run), never across a ``yield``.
    """
    text = op.text
    try:
        token = recorder.attach(op.span) if attach else None
        try:
            chunk = await inner.__anext__()
        except StopAsyncIteration:
            return
        finally:
            if token is not None:
                recorder.detach(token)
        op.first_chunk = time.perf_counter()
        while True:
            if text is not None:
                if chunk.kind == "text":
                    text.append(chunk.text)
                elif chunk.kind in ("tool_call", "tool_result"):
                    text.clear()  # the answer is the text after the last tool chunk
            if chunk.finish_reason is not None:
                # Before the final chunk is yielded: a consumer may stop right there.
                finish(chunk)
            yield chunk
            try:
                chunk = await inner.__anext__()
            except StopAsyncIteration:
                return
    except GeneratorExit:
        recorder.abandon(op)
        raise
    except BaseException as error:
        fail(recorder, op, error)
        raise
    finally:
        if not op.ended:
            recorder.abandon(op, "incomplete")  # the inner stream ended without a final chunk
        await aclose_stream(inner)


class ModelCallLayer:
    """``TelemetryMiddleware.model_calls``: a ``chat {model}`` span per model call of a loop.

    Requests without tools pass through: the outer layer's ``chat`` span is their one
    model call. Each span's parent is the request's ``invoke_agent`` span; whether the
    response cache answered it is read from ``request.context[CACHE_STATUS]``.
    """

    name = "Telemetry.model_calls"

    __slots__ = ("_owner",)

    def __init__(self, owner: Owner) -> None:
        self._owner = owner

    def _open(self, recorder: Recorder, request: LLMRequest, *, stream: bool) -> Operation:
        trace = request.context.get(self._owner._key)
        parent = None
        if isinstance(trace, RequestTrace):
            trace.model_calls += 1
            parent = trace.span
        return recorder.model_call(request, names.CHAT, parent=parent, stream=stream)

    def _finish(self, recorder: Recorder, request: LLMRequest, op: Operation, final: Any) -> None:
        context = request.context
        recorder.finish(op, final, cache_hit=cache_hit(context), attempts=context.get(ATTEMPT))

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Record one model call of a tool loop."""
        recorder = self._owner._recorder
        if recorder is None or not request.tools:
            return call_next(request)
        return traced_call(self, recorder, request, call_next)

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Record one streamed model call of a tool loop."""
        recorder = self._owner._recorder
        if recorder is None or not request.tools:
            return call_next(request)
        return stream_span(self, recorder, request, call_next, attach=True)

    def __repr__(self) -> str:
        return f"{self._owner!r}.model_calls"


class AttemptLayer:
    """``TelemetryMiddleware.attempts``: each failed attempt as an event on the current span.

    Inside retry, every attempt passes here; one that fails adds an ``exception`` event
    (type, Aether's message, ``aether.attempt``) to the current span, the model call's.
    A stream is watched until its first chunk, the only part retry repeats.
    """

    name = "Telemetry.attempts"

    __slots__ = ("_owner",)

    def __init__(self, owner: Owner) -> None:
        self._owner = owner

    def _record(self, request: LLMRequest, error: BaseException) -> None:
        recorder = self._owner._recorder
        if recorder is None:
            return
        from opentelemetry import trace

        span = trace.get_current_span()
        if span.is_recording():
            recorder.exception_event(span, error, request.context.get(ATTEMPT))

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Pass the attempt on; record it if it fails."""
        if self._owner._recorder is None:
            return call_next(request)
        return self._call(request, call_next)

    async def _call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        try:
            return await call_next(request)
        except Exception as error:
            self._record(request, error)
            raise

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Pass the attempt's stream on; record it if it fails before its first chunk."""
        if self._owner._recorder is None:
            return call_next(request)
        return _FirstChunkWatch(self, request, call_next(request))

    def __repr__(self) -> str:
        return f"{self._owner!r}.attempts"


class _FirstChunkWatch:
    """A stream that records a failure before its first chunk, then steps aside."""

    __slots__ = ("_inner", "_layer", "_request", "_started")

    def __init__(
        self, layer: AttemptLayer, request: LLMRequest, inner: AsyncIterator[StreamChunk]
    ) -> None:
        self._layer = layer
        self._request = request
        self._inner = inner
        self._started = False

    def __aiter__(self) -> _FirstChunkWatch:
        return self

    def __anext__(self) -> Awaitable[StreamChunk]:
        if self._started:
            return self._inner.__anext__()
        self._started = True
        return self._first()

    async def _first(self) -> StreamChunk:
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as error:
            self._layer._record(self._request, error)
            raise

    async def aclose(self) -> None:
        """Close the inner stream."""
        await aclose_stream(self._inner)
