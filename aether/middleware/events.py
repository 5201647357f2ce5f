"""The events middleware: lifecycle events around each provider call and stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
from aether.middleware._context import ATTEMPT, TOOL_LOOP
from aether.pipeline import CallNext, StreamNext

__all__ = ["EventsMiddleware"]


class EventsMiddleware:
    """Emits request.* around each call and stream.* around each stream.

    Sits just above the provider in the default stack, so each retry attempt and each
    tool-loop iteration is its own request (``event.attempt`` says which attempt). No
    event object is built for an event nobody subscribed to.
    """

    name = "Events"

    __slots__ = ("bus",)

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        bus = self.bus
        attempt: int = request.context.get(ATTEMPT, 1)
        if bus.wants(REQUEST_START):
            await bus.emit(RequestStart(request=request, attempt=attempt))
        started = anyio.current_time()
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
                    cost_usd=response.cost_usd,
                )
            )
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        bus = self.bus
        owns_lifecycle = TOOL_LOOP not in request.context
        attempt: int = request.context.get(ATTEMPT, 1)
        if owns_lifecycle and bus.wants(STREAM_START):
            await bus.emit(StreamStart(request=request, attempt=attempt))
        started = anyio.current_time()
        index = 0
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
                    )
                )
            raise
        finally:
            await aclose_stream(inner)
        if owns_lifecycle and bus.wants(STREAM_COMPLETE):
            await bus.emit(
                StreamComplete(
                    request=request,
                    duration_seconds=anyio.current_time() - started,
                    chunks=index,
                    model=final.model if final else None,
                    finish_reason=final.finish_reason if final else None,
                    input_tokens=(final.input_tokens or 0) if final else 0,
                    output_tokens=(final.output_tokens or 0) if final else 0,
                    cost_usd=final.cost_usd if final else None,
                    attempt=attempt,
                )
            )
