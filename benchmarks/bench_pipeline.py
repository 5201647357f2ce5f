"""The cost of the onion itself: N pass-through middlewares around the Fake provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aether import Aether, LLMRequest, Message, Pipeline
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMResponse, StreamChunk
from aether.pipeline import CallNext, StreamNext
from benchmarks._harness import (
    BACKENDS,
    CPU_CLOCK,
    ConstantProvider,
    Row,
    cli,
    measure,
    overhead,
)

TITLE = "Pipeline: the onion's own cost"
NOTES = """
Pass-through middlewares (one object with `call` and `stream`) around the Fake provider,
driven through `Pipeline.complete` / `Pipeline.stream` with a prebuilt request. "per layer"
is (time with 20 layers − time with none) / 20, the median of differences between
alternating runs, in CPU time. The stream rows divide by the number of chunks (50 text
chunks and a final one). "facade" is `client.ask` on an empty stack minus the bare
pipeline call: building the request from a string. A value below the machine's
resolution reads as 0.
"""

LAYERS = 20
CHUNKS = 50


class PassThrough:
    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return await call_next(request)

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        async for chunk in call_next(request):
            yield chunk


Body = Callable[[int], Awaitable[None]]


def _calls(pipeline: Pipeline, request: LLMRequest) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            await pipeline.complete(request)

    return body


def _streams(pipeline: Pipeline, request: LLMRequest) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            async for _chunk in pipeline.stream(request):
                pass

    return body


def _asks(client: Aether) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            await client.ask("hi")

    return body


def run(quick: bool) -> list[Row]:
    calls = 2_000 if quick else 10_000
    streams = 100 if quick else 500
    repeats = 3 if quick else 9
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model="fake-model")
    text = " ".join(["word"] * CHUNKS)
    bare = Pipeline([], FakeProvider(text))
    layered = Pipeline([PassThrough() for _ in range(LAYERS)], FakeProvider(text))
    rows: list[Row] = []
    for backend in BACKENDS:

        def diff(case: Body, base: Body, n: int, backend: str = backend) -> float:
            return max(0.0, overhead(case, base, iterations=n, repeats=repeats, backend=backend))

        bare_call = measure(
            _calls(bare, request), iterations=calls, backend=backend, clock=CPU_CLOCK
        )
        per_layer = diff(_calls(layered, request), _calls(bare, request), calls) / LAYERS
        bare_chunk = measure(
            _streams(bare, request), iterations=streams, backend=backend, clock=CPU_CLOCK
        ) / (CHUNKS + 1)
        chunk_layer = (
            diff(_streams(layered, request), _streams(bare, request), streams)
            / LAYERS
            / (CHUNKS + 1)
        )
        constant = ConstantProvider(LLMResponse(text="ok", model="fake-model"))
        facade = diff(
            _asks(Aether(constant, stack=[])), _calls(Pipeline([], constant), request), calls
        )
        rows += [
            Row("call, bare Fake provider", backend, bare_call, "s"),
            Row("call, per pass-through layer", backend, per_layer, "s", f"{LAYERS} layers"),
            Row("stream chunk, bare Fake provider", backend, bare_chunk, "s"),
            Row(
                "stream chunk, per pass-through layer",
                backend,
                chunk_layer,
                "s",
                f"{LAYERS} layers",
            ),
            Row("facade: client.ask over Pipeline.complete", backend, facade, "s"),
        ]
    return rows


if __name__ == "__main__":
    cli(run)
