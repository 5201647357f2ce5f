"""Turning telemetry on: one keyword, where the layers go, and no cost when it is off."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aether import Aether, ConfigurationError, default_stack
from aether.extensions.llm.fake import FakeProvider
from aether.middleware import TelemetryMiddleware
from tests._readme import run_readme_example
from tests.telemetry._otel import Otel

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_default_stack_places_one_middleware_at_three_depths() -> None:
    telemetry = TelemetryMiddleware()
    stack = default_stack(provider="fake", cache=True, telemetry=telemetry)
    client = Aether(FakeProvider(), stack=stack)
    assert client.pipeline.names == [
        "Telemetry", "StructuredOutput", "ToolLoop", "Telemetry.model_calls", "Cache",
        "CostTracking", "CircuitBreaker", "Retry", "Telemetry.attempts", "Events", "fake",
    ]  # fmt: skip
    assert stack[0] is telemetry
    assert stack[3] is telemetry.model_calls
    assert stack[8] is telemetry.attempts


def test_no_attempts_layer_without_retry_and_no_layers_by_default() -> None:
    names = Aether(FakeProvider(), telemetry=True, with_retry=False).pipeline.names
    assert names[:4] == ["Telemetry", "StructuredOutput", "ToolLoop", "Telemetry.model_calls"]
    assert "Telemetry.attempts" not in names
    assert not any(name.startswith("Telemetry") for name in Aether(FakeProvider()).pipeline.names)


def test_telemetry_keyword_conflicts_are_reported() -> None:
    with pytest.raises(ConfigurationError, match=r"telemetry=\.\.\. has no effect with stack"):
        Aether(FakeProvider(), stack=default_stack(), telemetry=True)
    with pytest.raises(ConfigurationError, match="telemetry= takes True, False or a Tele"):
        default_stack(telemetry="yes")  # type: ignore[arg-type]


def test_provider_name_and_server_come_from_the_base_url() -> None:
    groq = TelemetryMiddleware(provider="openai", base_url="https://api.groq.com/openai/v1")
    assert groq.provider == "groq"
    gemini = TelemetryMiddleware(provider="gemini")
    assert gemini.provider == "gcp.gemini"
    responses = TelemetryMiddleware(provider="openai-responses")
    assert responses.provider == "openai"  # the Responses API is OpenAI's too
    local = TelemetryMiddleware(provider="openai", base_url="http://user:pw@localhost:11434/v1")
    assert local.provider == "openai"
    assert local._server == {"server.address": "localhost", "server.port": 11434}


def test_unconfigured_costs_nothing_and_providers_configured_later_are_used() -> None:
    # A fresh process: the global providers can be set once only.
    output = _run(
        """
        import anyio
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from aether import Aether
        from aether.testing.wire import MockServer, ScriptedReply
        from aether.testing.wires import OPENAI_WIRE

        from aether.llm.contracts import LLMRequest, Message

        server = MockServer(OPENAI_WIRE, [ScriptedReply(text=("a",)), ScriptedReply(text=("b",))])
        client = Aether(OPENAI_WIRE.build_provider(server), telemetry=True)
        # Nothing configured yet: every layer hands the request straight on, no wrapper.
        telemetry = client.pipeline._layers[0].call.__self__
        request = LLMRequest(messages=(Message(role="user", content="hi"),))
        sentinel, stream = object(), object()
        for layer in (telemetry, telemetry.model_calls, telemetry.attempts):
            assert layer.call(request, lambda r: sentinel) is sentinel
            assert layer.stream(request, lambda r: stream) is stream
        anyio.run(client.ask, "before")
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        anyio.run(client.ask, "after")
        [span] = exporter.get_finished_spans()
        print(span.name, span.attributes["gen_ai.provider.name"],
              span.attributes["server.address"], span.attributes["server.port"])
        print(len(reader.get_metrics_data().resource_metrics))
        """
    )
    assert output.split("\n")[:2] == ["chat gpt-4o-mini openai api.openai.com 443", "1"]


def test_without_opentelemetry_nothing_is_imported_and_nothing_breaks() -> None:
    output = _run(
        """
        import sys
        import aether
        assert not any(name.startswith("opentelemetry") for name in sys.modules)
        sys.modules["opentelemetry"] = None  # as if it were not installed
        import anyio, logging
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
        from aether.extensions.llm.fake import FakeProvider
        client = aether.Aether(FakeProvider("fine"), telemetry=True)
        aether.Aether(FakeProvider("again"), telemetry=True)  # warned once per process
        print(anyio.run(client.ask, "hi"))
        """
    )
    lines = output.strip().splitlines()
    assert "opentelemetry-api is not installed" in lines[0]
    assert "pip install 'aether-llm[otel]'" in lines[0]
    assert lines[1:] == ["fine"]


async def test_aether_log_records_carry_the_current_trace_ids(
    otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    client = Aether(FakeProvider("hi"), telemetry=otel.middleware())

    @client.on("request.complete")
    def broken_subscriber(event: object) -> None:
        raise RuntimeError("a subscriber bug")

    with caplog.at_level(logging.ERROR, logger="aether.events"):
        await client.ask("hi")
    [record] = [record for record in caplog.records if record.name == "aether.events"]
    span = otel.one("chat fake-model")
    assert span.context is not None
    assert record.otelTraceID == format(span.context.trace_id, "032x")
    assert record.otelSpanID == format(span.context.span_id, "016x")
    assert record.otelTraceSampled is True
    outside = logging.getLogger("aether.events").makeRecord(
        "aether.events", logging.INFO, __file__, 1, "no span", (), None
    )
    assert outside.otelTraceID == "0"
    foreign = logging.getLogger("myapp").makeRecord(
        "myapp", logging.INFO, __file__, 1, "not ours", (), None
    )
    assert not hasattr(foreign, "otelTraceID")


def test_repr_names_the_layers() -> None:
    telemetry = TelemetryMiddleware(provider="openai")
    assert repr(telemetry) == "TelemetryMiddleware(provider='openai', capture_content=False)"
    assert repr(telemetry.attempts).endswith(".attempts")


def test_readme_console_exporter_example_prints_the_chat_span() -> None:
    done = run_readme_example("telemetry-console")
    assert done.returncode == 0, done.stderr
    assert "What is the capital of France?" in done.stdout  # the Fake provider's answer
    assert '"name": "chat fake-model"' in done.stdout
    assert '"gen_ai.operation.name": "chat"' in done.stdout
