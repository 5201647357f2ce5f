"""The events middleware: request.* events around each provider call, in both modes.

It sits just inside retry, so each attempt and each tool-loop iteration is its own
request.start / request.complete / request.error; a streamed provider call is a request
too, completed when its final chunk arrives. The stream.* events describe the logical
stream the caller iterates and come from the client (`aether._stream_events`).

Each event carries the request, the attempt (written by retry into the request context),
the model and, on failure or completion, the duration. Completion events carry the token
counts and the price where it is known: cost tracking sits outside this middleware, so
the response here has no price yet; given the client's shared `Pricer`, this middleware
prices it itself (memoised, about a microsecond, and only when someone listens), and the
figure is the one cost tracking adds to ``client.usage``.

A call or stream that is cancelled, or a stream the consumer abandons before its final
chunk, emits no error or completion event: an async subscriber could not run in a
cancelled scope anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import anyio

from aether.events import (
    REQUEST_COMPLETE,
    REQUEST_ERROR,
    REQUEST_START,
    EventBus,
    RequestComplete,
    RequestError,
    RequestStart,
)
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import StreamAccumulator, aclose_stream
from aether.middleware._context import ATTEMPT
from aether.pipeline import CallNext, StreamNext
from aether.pricing import Pricer

__all__ = ["EventsMiddleware"]


class EventsMiddleware:
    """Emits request.* around each provider call, streamed or not.

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

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Send ``request``, emitting request.* around it if anyone listens."""
        bus = self.bus
        if bus.wants(REQUEST_START) or bus.wants(REQUEST_COMPLETE) or bus.wants(REQUEST_ERROR):
            return self._observed_call(request, call_next)
        return call_next(request)

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Stream ``request``, emitting request.* around this provider call if anyone listens.

        The stream.* events of the logical stream come from the client, which alone knows
        where the stream its caller iterates begins and ends. With no subscriber to a
        request event, the inner stream is handed out as it is, at no cost per chunk.
        """
        bus = self.bus
        if bus.wants(REQUEST_START) or bus.wants(REQUEST_COMPLETE) or bus.wants(REQUEST_ERROR):
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
        attempt: int = request.context.get(ATTEMPT, 1)
        if bus.wants(REQUEST_START):
            await bus.emit(RequestStart(request=request, attempt=attempt, model=request.model))
        started = anyio.current_time()
        collected = StreamAccumulator() if bus.wants(REQUEST_COMPLETE) else None
        inner = call_next(request)
        try:
            async for chunk in inner:
                if collected is not None:
                    collected.add(chunk)
                    if chunk.finish_reason is not None:
                        # Before the final chunk is yielded: a consumer may stop there.
                        response = collected.response(request.model or "")
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
                        collected = None
                yield chunk
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
        finally:
            await aclose_stream(inner)
