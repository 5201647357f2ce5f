"""The default stack's cost: cost tracking, breaker, retry and events over the bare provider."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aether import Aether, EventBus, LLMRequest, LLMResponse, Message, Pipeline, TokenCounts
from aether.events import ALL_EVENTS
from aether.extensions.llm.builder import build_default_stack
from aether.extensions.llm.fake import FakeProvider
from aether.middleware import (
    CircuitBreakerMiddleware,
    CostTrackingMiddleware,
    EventsMiddleware,
    RetryMiddleware,
    StructuredOutputMiddleware,
)
from aether.pricing import Pricer
from aether.usage import Usage
from benchmarks._harness import BACKENDS, ConstantProvider, Row, cli, measure, overhead

TITLE = "Default stack: resilience and cost overhead"
NOTES = """
The default stack of `Aether()` (structured output → tool loop → cost tracking → circuit
breaker → retry → events; structured output and the tool loop pass through, as these
requests ask for no output type and offer no tools) around the Fake
provider, driven through `Pipeline.complete` / `Pipeline.stream` with a prebuilt
request, minus the same provider with no middleware. Every call succeeds, so retry never
enters tenacity. "gpt-4o-mini" answers are priced from genai-prices' data through the
memoised rate card (the library is loaded before timing); "fake-model" answers are priced
at the built-in free rate. "one layer" rows time each middleware alone. "subscribed"
adds a no-op subscriber to all ten events, so every `request.*` event object is built and
emitted (the `stream.*` events come from the client, outside `Pipeline`; see the facade
stream row).
Stream rows divide by the chunks of one stream (50 text chunks and a final one).
Times are CPU time (`time.process_time`), not wall time: on this virtual machine the
wall-clock speed of the same loop drifts by 2× and more between runs, CPU time by a few
per cent. Overheads are medians of differences between alternating runs of the stack and
the bare provider. The facade row is
`client.ask("hi")` minus `Pipeline.complete` on the same default stack: building the
request from a string, which the facade owns. Target: ≤ 50 µs per call and ≤ 3 µs per
stream chunk for the whole default stack.
"""

CHUNKS = 50
CLOCK = time.process_time
"""CPU time: this VM's wall-clock speed drifts by 2× and more between runs."""


def _answer(model: str, text: str) -> LLMResponse:
    return LLMResponse(
        text=text, model=model, provider="openai", input_tokens=1000, output_tokens=500
    )


def _provider(model: str, text: str) -> FakeProvider:
    response = _answer(model, text)
    return FakeProvider(responder=lambda request: response)


def _default_stack(*, subscribed: bool = False) -> list[object]:
    bus = EventBus()
    if subscribed:
        for name in ALL_EVENTS:
            bus.on(name, lambda event: None)
    return build_default_stack(events=bus, usage=Usage(), provider_name="openai")


def _single_layers() -> dict[str, object]:
    return {
        "cost tracking": CostTrackingMiddleware(Usage(), pricer=Pricer(provider="openai")),
        "circuit breaker": CircuitBreakerMiddleware(provider="openai"),
        "retry": RetryMiddleware(),
        "events (no subscriber)": EventsMiddleware(EventBus(), pricer=Pricer()),
        "structured output (no output_type)": StructuredOutputMiddleware(),
    }


Body = Callable[[int], Awaitable[None]]


def _call_body(stack: list[object], model: str) -> Body:
    pipeline = Pipeline(stack, _provider(model, "ok"))
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model=model)

    async def body(n: int) -> None:
        for _ in range(n):
            await pipeline.complete(request)

    return body


def _stream_body(stack: list[object], model: str, text: str) -> Body:
    pipeline = Pipeline(stack, _provider(model, text))
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model=model)

    async def body(n: int) -> None:
        for _ in range(n):
            async for _chunk in pipeline.stream(request):
                pass

    return body


def _facade_body(model: str) -> Body:
    client = Aether(ConstantProvider(_answer(model, "ok")))

    async def body(n: int) -> None:
        for _ in range(n):
            await client.ask("hi", model=model)

    return body


def _facade_base(model: str) -> Body:
    pipeline = Aether(ConstantProvider(_answer(model, "ok"))).pipeline
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model=model)

    async def body(n: int) -> None:
        for _ in range(n):
            await pipeline.complete(request)

    return body


def _facade_stream_body(text: str, *, subscribed: bool) -> Body:
    client = Aether(_provider("gpt-4o-mini", text), stack=[])
    if subscribed:
        for name in ALL_EVENTS:
            client.on(name, lambda event: None)

    async def body(n: int) -> None:
        for _ in range(n):
            async for _chunk in client.stream("hi", model="gpt-4o-mini"):
                pass

    return body


def _overhead(case: Body, base: Body, *, iterations: int, repeats: int, backend: str) -> float:
    return overhead(case, base, iterations=iterations, repeats=repeats, backend=backend)


def run(quick: bool) -> list[Row]:
    calls = 1_000 if quick else 5_000
    streams = 50 if quick else 300
    repeats = 3 if quick else 9
    text = " ".join(["word"] * CHUNKS)
    Pricer().price("gpt-4o-mini", TokenCounts(input=1, output=1), provider="openai")
    rows: list[Row] = []
    for backend in BACKENDS:

        def call_overhead(case: Body, base: Body, backend: str = backend) -> float:
            return _overhead(case, base, iterations=calls, repeats=repeats, backend=backend)

        def chunk_overhead(case: Body, base: Body, backend: str = backend) -> float:
            return _overhead(case, base, iterations=streams, repeats=repeats, backend=backend) / (
                CHUNKS + 1
            )

        bare_call = _call_body([], "gpt-4o-mini")
        bare_stream = _stream_body([], "gpt-4o-mini", text)
        bare = measure(bare_call, iterations=calls, backend=backend, clock=CLOCK)
        rows.append(Row("call, bare Fake provider", backend, bare, "s"))
        for model in ("gpt-4o-mini", "fake-model"):
            value = call_overhead(_call_body(_default_stack(), model), _call_body([], model))
            rows.append(Row(f"call, default stack overhead ({model})", backend, value, "s"))
        value = call_overhead(_call_body(_default_stack(subscribed=True), "gpt-4o-mini"), bare_call)
        rows.append(Row("call, default stack overhead, subscribed", backend, value, "s"))
        for name, layer in _single_layers().items():
            value = call_overhead(_call_body([layer], "gpt-4o-mini"), bare_call)
            rows.append(Row(f"call, one layer: {name}", backend, value, "s"))
        bare = measure(bare_stream, iterations=streams, backend=backend, clock=CLOCK)
        bare /= CHUNKS + 1
        rows.append(Row("stream chunk, bare Fake provider", backend, bare, "s"))
        value = chunk_overhead(_stream_body(_default_stack(), "gpt-4o-mini", text), bare_stream)
        rows.append(Row("stream chunk, default stack overhead", backend, value, "s"))
        subscribed = _stream_body(_default_stack(subscribed=True), "gpt-4o-mini", text)
        value = chunk_overhead(subscribed, bare_stream)
        rows.append(Row("stream chunk, default stack overhead, subscribed", backend, value, "s"))
        value = call_overhead(_facade_body("gpt-4o-mini"), _facade_base("gpt-4o-mini"))
        rows.append(
            Row("facade: client.ask over Pipeline.complete (default stack)", backend, value, "s")
        )
        value = chunk_overhead(
            _facade_stream_body(text, subscribed=True), _facade_stream_body(text, subscribed=False)
        )
        rows.append(Row("stream chunk, client stream.* events, subscribed", backend, value, "s"))
    return rows


if __name__ == "__main__":
    cli(run)
