"""Helpers for turning responses into streams and streams back into responses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from aether.llm.contracts import LLMResponse, StreamChunk, ToolCall

__all__ = [
    "StreamAccumulator",
    "aclose_stream",
    "final_chunk",
    "split_text",
    "stream_response",
]

_WORDS = re.compile(r"\s*\S+\s*|\s+")


async def aclose_stream(stream: AsyncIterator[Any]) -> None:
    """Close a stream you started iterating (a no-op for iterators without ``aclose``).

    Call it in a ``finally`` so a consumer that stops early releases the HTTP stream
    below, on asyncio and on trio alike.
    """
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def split_text(text: str, words_per_chunk: int = 1) -> Iterator[str]:
    """Split ``text`` into deltas of ``words_per_chunk`` words; they join back to ``text``."""
    pieces = _WORDS.findall(text)
    step = max(1, words_per_chunk)
    for start in range(0, len(pieces), step):
        yield "".join(pieces[start : start + step])


def final_chunk(response: LLMResponse) -> StreamChunk:
    """The final chunk a stream of ``response`` ends with (no text, all the metadata)."""
    return StreamChunk(
        finish_reason=response.finish_reason or "stop",
        model=response.model,
        input_tokens=response.input_tokens,
        output_tokens=response.output_tokens,
        cached_input_tokens=response.cached_input_tokens,
        cache_write_tokens=response.cache_write_tokens,
        reasoning_tokens=response.reasoning_tokens,
        tool_calls=response.tool_calls,
        provider=response.provider,
        cost_usd=response.cost_usd,
        response_id=response.response_id,
    )


async def stream_response(
    response: LLMResponse, words_per_chunk: int = 0
) -> AsyncIterator[StreamChunk]:
    """Yield ``response`` as a stream: its text (whole, or split by words), then a final chunk."""
    if response.text:
        if words_per_chunk <= 0:
            yield StreamChunk(text=response.text)
        else:
            for delta in split_text(response.text, words_per_chunk):
                yield StreamChunk(text=delta)
    yield final_chunk(response)


class StreamAccumulator:
    """Collects a stream's chunks into the `LLMResponse` the same call would have returned.

    Feed it every chunk with `add`; read `text` at any time, and `response()` once the
    final chunk has arrived.
    """

    __slots__ = ("_final", "_parts")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._final: StreamChunk | None = None

    def add(self, chunk: StreamChunk) -> None:
        """Record one chunk."""
        if chunk.kind == "text" and chunk.text:
            self._parts.append(chunk.text)
        if chunk.finish_reason is not None:
            self._final = chunk

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._parts)

    @property
    def final(self) -> StreamChunk | None:
        """The final chunk, once it has arrived."""
        return self._final

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls from the final chunk (empty before it)."""
        return self._final.tool_calls if self._final is not None else ()

    def response(self, default_model: str = "") -> LLMResponse:
        """The accumulated response; token counts are zero if no final chunk arrived."""
        final = self._final
        if final is None:
            return LLMResponse(text=self.text, model=default_model, finish_reason=None)
        return LLMResponse(
            text=self.text,
            model=final.model or default_model,
            input_tokens=final.input_tokens or 0,
            output_tokens=final.output_tokens or 0,
            cached_input_tokens=final.cached_input_tokens or 0,
            cache_write_tokens=final.cache_write_tokens or 0,
            reasoning_tokens=final.reasoning_tokens or 0,
            tool_calls=final.tool_calls,
            finish_reason=final.finish_reason,
            provider=final.provider,
            cost_usd=final.cost_usd,
            response_id=final.response_id,
        )
