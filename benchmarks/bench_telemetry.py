"""Telemetry's cost: the default stack with TelemetryMiddleware, on and off."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aether import LLMRequest, LLMResponse, Message, Pipeline, TokenCounts, default_stack
from aether.extensions.llm.fake import FakeProvider
from aether.middleware import TelemetryMiddleware
from aether.pricing import Pricer
from benchmarks._harness import BACKENDS, Row, cli, overhead

TITLE = "Telemetry: OpenTelemetry spans and metrics over the default stack"
NOTES = """
The default stack (`default_stack(provider="openai")`) around the Fake provider, driven
through `Pipeline.complete` / `Pipeline.stream` with a prebuilt request, with
`telemetry=TelemetryMiddleware(...)` minus without it. "on": the real OpenTelemetry SDK
with a `SimpleSpanProcessor` into an `InMemorySpanExporter` and an `InMemoryMetricReader`:
per call one `chat` span (six attributes at its start, six at its end) and four
histogram records (duration, input tokens, output tokens, cost). "spans only": the same
with no meter provider. "off": a `TelemetryMiddleware` with no tracer or meter provider
configured (the process never sets one), so each of its three layers hands the request
straight on. "per stream" is a stream of one (final) chunk; "per extra chunk" is (a
stream of 50 text chunks and a final one − a stream of one chunk) / 50. "tool loop" is
one logical request whose model asks for one tool (two model calls and one tool run: an
`invoke_agent`, two `chat` and one `execute_tool` span). CPU time, medians of
differences between alternating runs. Target with tracing on: under 30 µs per call and
1 µs per chunk. "SDK alone" times the SDK doing only what one call asks of it (the same
span and attributes, four records with the same attributes), without Aether: it is above
the per-call target by itself, so that target cannot be met with this SDK and processor
on this machine; what Aether adds is the difference (its three layers, making the span
current while the call runs, building the attributes). The per-chunk target is met. The
import row is a fresh interpreter importing `opentelemetry.trace` and
`opentelemetry.metrics` (what `TelemetryMiddleware()` imports), minus one importing
nothing; `import aether` imports neither.
"""

CHUNKS = 50
ANSWER = LLMResponse(
    text=" ".join(["word"] * CHUNKS),
    model="gpt-4o-mini",
    provider="openai",
    input_tokens=1000,
    output_tokens=500,
)


_EXPORTERS: list[InMemorySpanExporter] = []
"""Every exporter in use, emptied after each timed batch so memory stays flat."""


def _configured(*, metrics: bool = True) -> TelemetryMiddleware:
    tracer_provider = TracerProvider()
    exporter = InMemorySpanExporter()
    _EXPORTERS.append(exporter)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()]) if metrics else None
    return TelemetryMiddleware(
        provider="openai",
        base_url="https://api.openai.com/v1",
        tracer_provider=tracer_provider,
        meter_provider=meter_provider or NoOpMeterProvider(),
    )


def _pipeline(telemetry: TelemetryMiddleware | None, answers: list[LLMResponse]) -> Pipeline:
    position = 0

    def answer(request: LLMRequest) -> LLMResponse:
        nonlocal position
        position += 1
        return answers[(position - 1) % len(answers)]

    stack = default_stack(provider="openai", telemetry=telemetry or False)
    return Pipeline(stack, FakeProvider(responder=answer, words_per_chunk=1))


REQUEST = LLMRequest(messages=(Message(role="user", content="hi"),), model="gpt-4o-mini")


Body = Callable[[int], Awaitable[None]]


def _forget_spans() -> None:
    for exporter in _EXPORTERS:
        exporter.clear()


def _calls(
    telemetry: TelemetryMiddleware | None,
    request: LLMRequest = REQUEST,
    answers: list[LLMResponse] | None = None,
) -> Body:
    pipeline = _pipeline(telemetry, answers or [ANSWER.model_copy(update={"text": "ok"})])

    async def body(n: int) -> None:
        for _ in range(n):
            await pipeline.complete(request)
        _forget_spans()

    return body


def _streams(telemetry: TelemetryMiddleware | None, answer: LLMResponse = ANSWER) -> Body:
    pipeline = _pipeline(telemetry, [answer])

    async def body(n: int) -> None:
        for _ in range(n):
            async for _chunk in pipeline.stream(REQUEST):
                pass
        _forget_spans()

    return body


def _sdk_floor(iterations: int, repeats: int) -> float:
    """The SDK's own work for one model call: a span with Aether's attributes, 4 records."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    tracer = tracer_provider.get_tracer("floor")
    histograms = [
        MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("floor").create_histogram(
            f"h{index}"
        )
        for index in range(4)
    ]
    start = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
             "gen_ai.request.model": "gpt-4o-mini", "server.address": "api.openai.com",
             "server.port": 443, "gen_ai.request.temperature": 0.7}  # fmt: skip
    end = {"gen_ai.response.model": "gpt-4o-mini", "gen_ai.response.id": "chatcmpl-1",
           "gen_ai.response.finish_reasons": ("stop",), "gen_ai.usage.input_tokens": 1000,
           "gen_ai.usage.output_tokens": 500, "aether.cost_usd": 0.00045}  # fmt: skip
    metric = {**{key: start[key] for key in list(start)[:5]}, "gen_ai.response.model": "m"}
    results = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(iterations):
            span = tracer.start_span("chat gpt-4o-mini", attributes=start)
            span.set_attributes(end)
            span.end()
            for histogram in histograms:
                histogram.record(1.0, metric)
        results.append((time.process_time() - started) / iterations)
    return sorted(results)[len(results) // 2]


def _tool_loop_case() -> tuple[LLMRequest, list[LLMResponse]]:
    from aether.llm.contracts import Tool, ToolCall

    async def echo(arguments: dict[str, object]) -> str:
        return "echo"

    request = REQUEST.model_copy(update={"tools": (Tool(name="echo", handler=echo),)})
    asks = ANSWER.model_copy(update={"text": "", "tool_calls": (ToolCall(id="c", name="echo"),)})
    return request, [asks, ANSWER.model_copy(update={"text": "done"})]


def _import_seconds() -> float:
    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    results = []
    for _ in range(5):
        base = run("pass")
        results.append(run("import opentelemetry.trace, opentelemetry.metrics") - base)
    return sorted(results)[len(results) // 2]


def run(quick: bool) -> list[Row]:
    calls = 1_000 if quick else 3_000
    streams = 100 if quick else 400
    loops = 300 if quick else 1_000
    repeats = 3 if quick else 7
    Pricer().price("gpt-4o-mini", TokenCounts(input=1, output=1), provider="openai")
    tool_request, tool_answers = _tool_loop_case()
    short = ANSWER.model_copy(update={"text": ""})  # a stream of one (final) chunk
    rows: list[Row] = []
    for backend in BACKENDS:

        def each(case: Body, base: Body, iterations: int, backend: str = backend) -> float:
            return overhead(case, base, iterations=iterations, repeats=repeats, backend=backend)

        off = TelemetryMiddleware(provider="openai")
        value = each(_calls(_configured()), _calls(None), calls)
        rows.append(Row("call, telemetry on (spans and metrics)", backend, value, "s"))
        value = each(_calls(_configured(metrics=False)), _calls(None), calls)
        rows.append(Row("call, telemetry on, spans only", backend, value, "s"))
        value = each(_calls(off), _calls(None), calls)
        rows.append(Row("call, telemetry off", backend, value, "s"))
        long_stream = each(_streams(_configured()), _streams(None), streams)
        one_chunk = each(_streams(_configured(), short), _streams(None, short), streams)
        rows.append(Row("stream, telemetry on, per stream", backend, one_chunk, "s", "1 chunk"))
        value = (long_stream - one_chunk) / CHUNKS
        rows.append(Row("stream chunk, telemetry on", backend, value, "s", "per extra chunk"))
        value = each(_streams(off), _streams(None), streams) / (CHUNKS + 1)
        rows.append(Row("stream chunk, telemetry off", backend, value, "s"))
        case = _calls(_configured(), tool_request, answers=tool_answers)
        base = _calls(None, tool_request, answers=tool_answers)
        rows.append(Row("tool loop request, telemetry on", backend, each(case, base, loops), "s",
                        "4 spans"))  # fmt: skip
    value = _sdk_floor(calls, repeats)
    rows.append(Row("SDK alone: one span and four histogram records", "-", value, "s", "no Aether"))
    rows.append(Row("import opentelemetry trace and metrics APIs", "-", _import_seconds(), "s"))
    return rows


if __name__ == "__main__":
    cli(run)
