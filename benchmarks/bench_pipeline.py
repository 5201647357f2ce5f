"""The cost of the onion itself: N pass-through middlewares around the Fake provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aether import Aether, LLMRequest, Message, Pipeline
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMResponse, StreamChunk
from aether.pipeline import CallNext, StreamNext
from benchmarks._harness import BACKENDS, Row, cli, measure

TITLE = "Pipeline: the onion's own cost"
NOTES = """
Pass-through middlewares (one object with `call` and `stream`) around the Fake provider,
driven through `Pipeline.complete` / `Pipeline.stream` with a prebuilt request. "per layer"
is (time with N layers − time with 0 layers) / N. The stream rows divide by the number of
chunks (50 text chunks and a final one). "facade" is `client.ask` on an empty stack minus
the bare pipeline call: building the request from a string.
"""

LAYERS = 10
CHUNKS = 50


class PassThrough:
    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return await call_next(request)

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        async for chunk in call_next(request):
            yield chunk


def run(quick: bool) -> list[Row]:
    calls = 2_000 if quick else 20_000
    streams = 100 if quick else 1_000
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model="fake-model")
    text = " ".join(["word"] * CHUNKS)
    rows: list[Row] = []
    for backend in BACKENDS:
        per_call: dict[int, float] = {}
        per_chunk: dict[int, float] = {}
        for layers in (0, LAYERS):
            pipeline = Pipeline([PassThrough() for _ in range(layers)], FakeProvider(text))

            async def call_body(n: int, pipeline: Pipeline = pipeline) -> None:
                for _ in range(n):
                    await pipeline.complete(request)

            async def stream_body(n: int, pipeline: Pipeline = pipeline) -> None:
                for _ in range(n):
                    async for _chunk in pipeline.stream(request):
                        pass

            per_call[layers] = measure(call_body, iterations=calls, backend=backend)
            per_chunk[layers] = measure(stream_body, iterations=streams, backend=backend) / (
                CHUNKS + 1
            )
        client = Aether(FakeProvider(text), stack=[])

        async def ask_body(n: int, client: Aether = client) -> None:
            for _ in range(n):
                await client.ask("hi")

        facade = measure(ask_body, iterations=calls, backend=backend)
        rows += [
            Row("call, bare Fake provider", backend, per_call[0], "s"),
            Row(
                "call, per pass-through layer",
                backend,
                (per_call[LAYERS] - per_call[0]) / LAYERS,
                "s",
                f"{LAYERS} layers",
            ),
            Row("stream chunk, bare Fake provider", backend, per_chunk[0], "s"),
            Row(
                "stream chunk, per pass-through layer",
                backend,
                (per_chunk[LAYERS] - per_chunk[0]) / LAYERS,
                "s",
                f"{LAYERS} layers",
            ),
            Row("facade: client.ask over Pipeline.complete", backend, facade - per_call[0], "s"),
        ]
    return rows


if __name__ == "__main__":
    cli(run)
