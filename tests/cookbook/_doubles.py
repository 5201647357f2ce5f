"""Test doubles for the cookbook tests: a provider that streams exact chunks, a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import anyio

from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, TokenCounts, ToolCall


class ChunkedProvider:
    """Streams exactly the given text chunks, then a final chunk (or raises ``error``).

    ``complete`` answers the joined text. Every request is kept in ``requests`` and every
    chunk yielded in ``yielded``; ``open_streams`` counts streams not yet closed.
    """

    name = "chunked"

    def __init__(
        self,
        chunks: Sequence[str],
        *,
        tool_calls: Sequence[ToolCall] = (),
        error: Exception | None = None,
    ) -> None:
        self.chunks = list(chunks)
        self.tool_calls = tuple(tool_calls)
        self.error = error
        self.requests: list[LLMRequest] = []
        self.yielded: list[StreamChunk] = []
        self.open_streams = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return LLMResponse(
            text="".join(self.chunks), model="chunked-model", tool_calls=self.tool_calls
        )

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        self.requests.append(request)
        self.open_streams += 1
        try:
            for text in self.chunks:
                chunk = StreamChunk(text=text)
                self.yielded.append(chunk)
                yield chunk
            if self.error is not None:
                raise self.error
            final = StreamChunk(
                finish_reason="stop",
                model="chunked-model",
                tokens=TokenCounts(input=3, output=4),
                tool_calls=self.tool_calls,
            )
            self.yielded.append(final)
            yield final
        finally:
            self.open_streams -= 1


class ManualClock:
    """A clock that moves only when the test says so; ``sleep`` waits for it to move."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, anyio.Event]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        woken = anyio.Event()
        self._sleepers.append((self.now + seconds, woken))
        await woken.wait()

    async def advance(self, seconds: float) -> None:
        """Move the clock, wake the sleepers now due, and let them run until they block."""
        self.now += seconds
        due = [entry for entry in self._sleepers if entry[0] <= self.now + 1e-9]
        self._sleepers = [entry for entry in self._sleepers if entry not in due]
        for _, woken in due:
            woken.set()
        await anyio.wait_all_tasks_blocked()
