"""Helpers for turning responses into streams and streams back into responses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from aether.llm.contracts import (
    LLMResponse,
    Part,
    ReasoningPart,
    StreamChunk,
    TextPart,
    TokenCounts,
    ToolCall,
)

__all__ = [
    "StreamAccumulator",
    "aclose_stream",
    "content_chunks",
    "final_chunk",
    "hold_final",
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
        tokens=response.tokens,
        parts=response.parts,
        tool_calls=response.tool_calls,
        provider=response.provider,
        cost_usd=response.cost_usd,
        response_id=response.response_id,
        output=response.output,
        output_mode=response.output_mode,
    )


def hold_final(chunk: StreamChunk) -> tuple[StreamChunk | None, StreamChunk]:
    """A final chunk a layer holds back: the text chunk to pass on now (``None`` if it
    carries no text), and the final chunk without its text, to yield later."""
    if not chunk.text:
        return None, chunk
    return StreamChunk(text=chunk.text), chunk.model_copy(update={"text": ""})


def _deltas(text: str, words_per_chunk: int) -> Iterator[str]:
    if words_per_chunk <= 0:
        if text:
            yield text
    else:
        yield from split_text(text, words_per_chunk)


def content_chunks(response: LLMResponse, words_per_chunk: int = 0) -> Iterator[StreamChunk]:
    """The chunks a stream of ``response`` carries before its final chunk.

    A response with ``parts`` gives them in order: reasoning as ``reasoning`` chunks,
    text as ``text`` chunks; other parts travel on the final chunk only (in its
    ``parts``), as they do from a provider. ``words_per_chunk`` of 0 or less sends each
    text whole.
    """
    if not response.parts:
        for delta in _deltas(response.text, words_per_chunk):
            yield StreamChunk(text=delta)
        return
    for part in response.parts:
        if isinstance(part, TextPart):
            for delta in _deltas(part.text, words_per_chunk):
                yield StreamChunk(text=delta)
        elif isinstance(part, ReasoningPart):
            for delta in _deltas(part.text, words_per_chunk):
                yield StreamChunk(kind="reasoning", reasoning=delta)


async def stream_response(
    response: LLMResponse, words_per_chunk: int = 0
) -> AsyncIterator[StreamChunk]:
    """Yield ``response`` as a stream: `content_chunks`, then its final chunk."""
    for chunk in content_chunks(response, words_per_chunk):
        yield chunk
    yield final_chunk(response)


class StreamAccumulator:
    """Collects a stream's chunks into the `LLMResponse` the same call would have returned.

    Feed it every chunk with `add`; read `text` and `reasoning` at any time, and
    `response()` once the final chunk has arrived. The response's ``parts`` are the final
    chunk's; a stream that sent reasoning deltas but no parts on its final chunk gets them
    rebuilt from the deltas, in the order they came. An ``output_retry`` chunk (a
    structured answer asked for again) starts the text and reasoning afresh.
    """

    __slots__ = ("_final", "_parts", "_reasoning", "_switches")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._reasoning: list[str] = []
        # Once reasoning arrives: where the kind switched, as (is reasoning, index of the
        # first delta in its list). Kinds alternate, so a segment ends where the next
        # segment of its kind starts.
        self._switches: list[tuple[bool, int]] = []
        self._final: StreamChunk | None = None

    def add(self, chunk: StreamChunk) -> None:
        """Record one chunk."""
        kind = chunk.kind
        if kind == "text":
            if chunk.text:
                switches = self._switches
                if switches and switches[-1][0]:
                    switches.append((False, len(self._parts)))
                self._parts.append(chunk.text)
        elif kind == "reasoning" and chunk.reasoning:
            switches = self._switches
            if not switches and self._parts:
                switches.append((False, 0))
            if not switches or not switches[-1][0]:
                switches.append((True, len(self._reasoning)))
            self._reasoning.append(chunk.reasoning)
        elif kind == "output_retry":
            self._parts.clear()
            self._reasoning.clear()
            self._switches.clear()
        if chunk.finish_reason is not None:
            self._final = chunk

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._parts)

    @property
    def reasoning(self) -> str:
        """The reasoning text so far."""
        return "".join(self._reasoning)

    @property
    def final(self) -> StreamChunk | None:
        """The final chunk, once it has arrived."""
        return self._final

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls from the final chunk (empty before it)."""
        return self._final.tool_calls if self._final is not None else ()

    def _rebuilt_parts(self) -> tuple[Part, ...]:
        """Parts from the deltas, in arrival order (``()`` when no reasoning came)."""
        switches = self._switches
        parts: list[Part] = []
        for index, (is_reasoning, start) in enumerate(switches):
            deltas = self._reasoning if is_reasoning else self._parts
            end = switches[index + 2][1] if index + 2 < len(switches) else len(deltas)
            text = "".join(deltas[start:end])
            parts.append(ReasoningPart(text=text) if is_reasoning else TextPart(text=text))
        return tuple(parts)

    def response(self, default_model: str = "") -> LLMResponse:
        """The accumulated response; token counts are zero if no final chunk arrived."""
        final = self._final
        if final is None:
            return LLMResponse(
                text=self.text,
                model=default_model,
                parts=self._rebuilt_parts(),
                finish_reason=None,
            )
        return LLMResponse(
            text=self.text,
            model=final.model or default_model,
            tokens=final.tokens if final.tokens is not None else TokenCounts(),
            parts=final.parts or self._rebuilt_parts(),
            tool_calls=final.tool_calls,
            finish_reason=final.finish_reason,
            provider=final.provider,
            cost_usd=final.cost_usd,
            response_id=final.response_id,
            output=final.output,
            output_mode=final.output_mode,
        )
