"""The lifecycle events of a logical stream, emitted by the client around what it yields.

Only the client knows where the stream its caller iterates begins and ends: retries,
a fallback to another provider and the tool loop's iterations all happen inside it. So
``stream.start``, ``stream.chunk``, ``stream.complete`` and ``stream.error`` come from
here, once per logical stream, while the events middleware emits ``request.*`` around
each provider call below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio

from aether.events import (
    STREAM_CHUNK,
    STREAM_COMPLETE,
    STREAM_ERROR,
    STREAM_START,
    EventBus,
    StreamChunkEvent,
    StreamComplete,
    StreamError,
    StreamStart,
)
from aether.llm.contracts import LLMRequest, StreamChunk, TokenCounts
from aether.llm.streaming import aclose_stream

_STREAM_EVENTS = (STREAM_START, STREAM_CHUNK, STREAM_COMPLETE, STREAM_ERROR)
_NONE = TokenCounts()


def observes_streams(bus: EventBus) -> bool:
    """Whether anyone listens to a stream event (decided when a stream starts)."""
    return any(bus.wants(name) for name in _STREAM_EVENTS)


async def observe_stream(
    bus: EventBus, request: LLMRequest, inner: AsyncIterator[StreamChunk]
) -> AsyncIterator[StreamChunk]:
    """Yield ``inner`` unchanged, emitting the logical stream's events around it.

    ``stream.complete`` fires when the final chunk arrives, before it is yielded, so a
    consumer that stops at the final chunk still completes the stream. A stream that is
    cancelled or abandoned before its final chunk emits neither completion nor error.
    """
    if bus.wants(STREAM_START):
        await bus.emit(StreamStart(request=request, model=request.model))
    started = anyio.current_time()
    index = 0
    completed = False
    try:
        async for chunk in inner:
            if chunk.kind == "text" and chunk.text:
                if bus.wants(STREAM_CHUNK):
                    await bus.emit(StreamChunkEvent(request=request, chunk=chunk, index=index))
                index += 1
            if chunk.finish_reason is not None and not completed:
                completed = True
                if bus.wants(STREAM_COMPLETE):
                    await bus.emit(
                        StreamComplete(
                            request=request,
                            duration_seconds=anyio.current_time() - started,
                            chunks=index,
                            model=chunk.model or request.model,
                            finish_reason=chunk.finish_reason,
                            tokens=chunk.tokens if chunk.tokens is not None else _NONE,
                            cost_usd=chunk.cost_usd,
                        )
                    )
            yield chunk
    except Exception as error:
        if not completed and bus.wants(STREAM_ERROR):
            await bus.emit(
                StreamError(
                    request=request,
                    error=error,
                    duration_seconds=anyio.current_time() - started,
                    chunks=index,
                    model=request.model,
                )
            )
        raise
    finally:
        await aclose_stream(inner)
