"""The events middleware: lifecycle events around each provider call and stream.

Each event carries the request, the attempt (written by retry into the request context),
the model and, on failure or completion, the duration. Completion events carry the token
counts and the price where it is known: cost tracking sits outside this middleware, so
the response here has no price yet; given the client's shared `Pricer`, this middleware
prices it itself (memoised, about a microsecond, and only when someone listens), and the
figure is the one cost tracking adds to ``client.usage``.

A call or stream that is cancelled, or a stream the consumer abandons, emits no error or
completion event: an async subscriber could not run in a cancelled scope anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import anyio

from aether.events import (
    REQUEST_COMPLETE,
    REQUEST_ERROR,
    REQUEST_START,
    STREAM_CHUNK,
    STREAM_COMPLETE,
    STREAM_ERROR,
    STREAM_START,
    EventBus,
    RequestComplete,
    RequestError,
    RequestStart,
    StreamChunkEvent,
    StreamComplete,
    StreamError,
    StreamStart,
)
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.middleware._context import ATTEMPT, STREAM_CHUNKS, TOOL_LOOP
from aether.pipeline import CallNext, StreamNext
from aether.pricing import Pricer

__all__ = ["EventsMiddleware"]

_STREAM_EVENTS = (STREAM_START, STREAM_CHUNK, STREAM_COMPLETE, STREAM_ERROR)


class EventsMiddleware:
    """Emits request.* around each call and stream.* around each stream.

    Sits just above the provider in the default stack, so each retry attempt and each
    tool-loop iteration is its own request (``event.attempt`` says which attempt). No
    event object is built for an event nobody subscribed to, and a call or stream that
    nobody observes skips this layer altogether; whether it is observed is decided when
    it starts, so a subscriber added mid-stream sees the next stream.

    Args:
        bus: Where to emit.
        pricer: Prices completed calls and streams for their events; without one, an
            event carries the price only if the response already has one.
    """

    name = "Events"

    __slots__ = ("bus", "pricer")

    def __init__(self, bus: EventBus, *, pricer: Pricer | None = None) -> None:
        self.bus = bus
        self.pricer = pricer

    def _response_cost(self, request: LLMRequest, response: LLMResponse) -> float | None:
        if response.cost_usd is not None or self.pricer is None:
            return response.cost_usd
        return self.pricer.price_response(response, requested_model=request.model)

    def _stream_cost(self, request: LLMRequest, final: StreamChunk | None) -> float | None:
        if final is None:
            return None
        if final.cost_usd is not None or self.pricer is None:
            return final.cost_usd
        return self.pricer.price_final_chunk(final, requested_model=request.model)

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Send ``request``, emitting request.* around it if anyone listens."""
        bus = self.bus
        if bus.wants(REQUEST_START) or bus.wants(REQUEST_COMPLETE) or bus.wants(REQUEST_ERROR):
            return self._observed_call(request, call_next)
        return call_next(request)

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Stream ``request``, emitting stream.* around it if anyone listens.

        With no subscriber to any stream event, the inner stream is handed out as it is,
        so this layer costs nothing per chunk.
        """
        bus = self.bus
        for name in _STREAM_EVENTS:
            if bus.wants(name):
                return self._observed_stream(request, call_next)
        return call_next(request)

    async def _observed_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        bus = self.bus
        attempt: int = request.context.get(ATTEMPT, 1)
        if bus.wants(REQUEST_START):
            await bus.emit(RequestStart(request=request, attempt=attempt, model=request.model))
        timed = bus.wants(REQUEST_COMPLETE) or bus.wants(REQUEST_ERROR)
        started = anyio.current_time() if timed else 0.0
        try:
            response = await call_next(request)
        except Exception as error:
            if bus.wants(REQUEST_ERROR):
                await bus.emit(
                    RequestError(
                        request=request,
                        error=error,
                        duration_seconds=anyio.current_time() - started,
                        attempt=attempt,
                        model=request.model,
                    )
                )
            raise
        if bus.wants(REQUEST_COMPLETE):
            await bus.emit(
                RequestComplete(
                    request=request,
                    response=response,
                    duration_seconds=anyio.current_time() - started,
                    attempt=attempt,
                    cost_usd=self._response_cost(request, response),
                    model=response.model,
                )
            )
        return response

    async def _observed_stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        bus = self.bus
        context = request.context
        owns_lifecycle = TOOL_LOOP not in context
        attempt: int = context.get(ATTEMPT, 1)
        if owns_lifecycle and bus.wants(STREAM_START):
            await bus.emit(StreamStart(request=request, attempt=attempt, model=request.model))
        started = anyio.current_time()
        index: int = 0 if owns_lifecycle else context.get(STREAM_CHUNKS, 0)
        final: StreamChunk | None = None
        inner = call_next(request)
        try:
            async for chunk in inner:
                if chunk.finish_reason is not None:
                    final = chunk
                if chunk.kind == "text" and chunk.text:
                    if bus.wants(STREAM_CHUNK):
                        await bus.emit(StreamChunkEvent(request=request, chunk=chunk, index=index))
                    index += 1
                yield chunk
        except Exception as error:
            if owns_lifecycle and bus.wants(STREAM_ERROR):
                await bus.emit(
                    StreamError(
                        request=request,
                        error=error,
                        duration_seconds=anyio.current_time() - started,
                        chunks=index,
                        attempt=attempt,
                        model=request.model,
                    )
                )
            raise
        finally:
            if not owns_lifecycle:
                context[STREAM_CHUNKS] = index
            await aclose_stream(inner)
        if owns_lifecycle and bus.wants(STREAM_COMPLETE):
            await bus.emit(
                StreamComplete(
                    request=request,
                    duration_seconds=anyio.current_time() - started,
                    chunks=index,
                    model=(final.model if final else None) or request.model,
                    finish_reason=final.finish_reason if final else None,
                    input_tokens=(final.input_tokens or 0) if final else 0,
                    output_tokens=(final.output_tokens or 0) if final else 0,
                    cost_usd=self._stream_cost(request, final),
                    attempt=attempt,
                )
            )
