"""Recording one operation: its span, its attributes at start and end, and its metrics.

`Recorder` holds the live OpenTelemetry objects of one `TelemetryMiddleware` (a tracer and
four histograms) and is built only once OpenTelemetry is installed and configured, so
nothing here runs, or is imported, otherwise. Attributes that matter for sampling
(operation, provider, model, server) are given when the span starts; the rest are set
in one call when it ends, and the metrics are recorded then too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aether.errors import AetherError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.middleware import _telemetry_names as names
from aether.middleware._telemetry_content import (
    Redactor,
    input_messages,
    output_messages,
    tool_definitions,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["Operation", "Recorder", "error_type"]

Final = LLMResponse | StreamChunk
"""What ends a model call: the response, or a stream's final chunk (same field names)."""


_HISTOGRAMS: tuple[tuple[str, str, str, tuple[float, ...]], ...] = (
    (names.OPERATION_DURATION, "s", "GenAI operation duration.", names.SECONDS_BUCKETS),
    (names.TOKEN_USAGE, "{token}", "Number of input and output tokens used.", names.TOKEN_BUCKETS),
    (
        names.TIME_TO_FIRST_CHUNK,
        "s",
        "Time to receive the first chunk of a streamed response.",
        names.SECONDS_BUCKETS,
    ),
    (
        names.COST,
        "{USD}",
        "The dollars each model call cost, as Aether's cost tracking priced it.",
        names.COST_BUCKETS,
    ),
)
"""Each histogram: name, unit, description, bucket boundaries."""


def error_type(error: BaseException) -> str:
    """``error.type``: the exception's class name (low-cardinality, as the conventions ask)."""
    return type(error).__qualname__


@dataclass(slots=True)
class Operation:
    """One span being recorded, with what its metrics need when it ends."""

    span: Span
    operation: str
    metric_attributes: dict[str, Any]
    stream: bool
    started: float = field(default_factory=time.perf_counter)
    first_chunk: float | None = None
    text: list[str] | None = None
    ended: bool = False


class Recorder:
    """The live tracer and instruments of one telemetry middleware, and how it records."""

    __slots__ = (
        "_attach",
        "_detach",
        "_in_context",
        "_kinds",
        "_status",
        "capture_content",
        "cost",
        "duration",
        "first_chunk",
        "provider",
        "redact",
        "server",
        "tokens",
        "tracer",
    )

    def __init__(
        self,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        *,
        version: str,
        provider: str | None,
        server: dict[str, Any],
        capture_content: bool,
        redact: Redactor,
    ) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self.tracer = tracer_provider.get_tracer("aether", version)
        meter = meter_provider.get_meter("aether", version)
        histograms = {
            name: meter.create_histogram(
                name, unit=unit, description=text, explicit_bucket_boundaries_advisory=list(buckets)
            )
            for name, unit, text, buckets in _HISTOGRAMS
        }
        self.duration = histograms[names.OPERATION_DURATION]
        self.tokens = histograms[names.TOKEN_USAGE]
        self.first_chunk = histograms[names.TIME_TO_FIRST_CHUNK]
        self.cost = histograms[names.COST]
        self._attach = context.attach
        self._detach = context.detach
        self._in_context = trace.set_span_in_context
        self._kinds = {"client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}
        self._status = (Status, StatusCode.ERROR)
        self.provider = provider
        self.server = server
        self.capture_content = capture_content
        self.redact = redact

    # -- context -------------------------------------------------------------------------

    def attach(self, span: Span) -> object:
        """Make ``span`` the current span; give the token back to `detach`."""
        return self._attach(self._in_context(span))

    def detach(self, token: object) -> None:
        """Restore the context `attach` replaced."""
        self._detach(token)  # type: ignore[arg-type]

    # -- starting ------------------------------------------------------------------------

    def start(
        self,
        name: str,
        operation: str,
        attributes: dict[str, Any],
        *,
        kind: Literal["client", "internal"],
        parent: Span | None,
        stream: bool = False,
    ) -> Operation:
        """Start a span named ``name`` under ``parent`` (or the current span)."""
        context = self._in_context(parent) if parent is not None else None
        span = self.tracer.start_span(
            name, context=context, kind=self._kinds[kind], attributes=attributes
        )
        metric_attributes = {
            key: value
            for key, value in attributes.items()
            if key in (names.PROVIDER_NAME, names.REQUEST_MODEL, names.SERVER_ADDRESS,
                       names.SERVER_PORT, names.TOOL_NAME)
        }  # fmt: skip
        metric_attributes[names.OPERATION_NAME] = operation
        return Operation(span, operation, metric_attributes, stream)

    def model_call(
        self, request: LLMRequest, operation: str, *, parent: Span | None, stream: bool
    ) -> Operation:
        """Start a ``chat {model}`` or ``invoke_agent`` span for ``request``."""
        attributes: dict[str, Any] = {names.OPERATION_NAME: operation}
        if self.provider is not None:
            attributes[names.PROVIDER_NAME] = self.provider
        if request.model:
            attributes[names.REQUEST_MODEL] = request.model
        attributes.update(self.server)
        if request.temperature is not None:
            attributes[names.REQUEST_TEMPERATURE] = request.temperature
        if request.max_tokens is not None:
            attributes[names.REQUEST_MAX_TOKENS] = request.max_tokens
        if request.top_p is not None:
            attributes[names.REQUEST_TOP_P] = request.top_p
        if request.stop:
            attributes[names.REQUEST_STOP_SEQUENCES] = request.stop
        if request.provider_options:
            seed = request.provider_options.get(self.provider or "", {}).get("seed")
            if isinstance(seed, int):
                attributes[names.REQUEST_SEED] = seed
        if stream:
            attributes[names.REQUEST_STREAM] = True
        if self.capture_content:
            attributes[names.INPUT_MESSAGES] = self.redact(input_messages(request))
            if request.tools:
                attributes[names.TOOL_DEFINITIONS] = self.redact(tool_definitions(request.tools))
        name = operation
        kind: Literal["client", "internal"] = "internal"
        if operation == names.CHAT:
            name, kind = (f"chat {request.model}" if request.model else "chat"), "client"
        op = self.start(name, operation, attributes, kind=kind, parent=parent, stream=stream)
        if stream and self.capture_content:
            op.text = []
        return op

    # -- ending --------------------------------------------------------------------------

    def _metric_attributes(self, op: Operation, response_model: str | None) -> dict[str, Any]:
        attributes = op.metric_attributes
        if response_model:
            attributes[names.RESPONSE_MODEL] = response_model
        return attributes

    def finish(
        self,
        op: Operation,
        final: Final,
        *,
        cache_hit: bool | None = None,
        attempts: int | None = None,
        count_tokens: bool = True,
    ) -> None:
        """End ``op`` with the response (or final chunk) it produced."""
        if op.ended:
            return
        op.ended = True
        elapsed = time.perf_counter() - op.started
        end: dict[str, Any] = {}
        provider = op.metric_attributes.get(names.PROVIDER_NAME)
        if provider is None and final.provider:
            provider = op.metric_attributes[names.PROVIDER_NAME] = final.provider
            end[names.PROVIDER_NAME] = provider
        if final.model:
            end[names.RESPONSE_MODEL] = final.model
        if final.response_id:
            end[names.RESPONSE_ID] = final.response_id
        if final.finish_reason:
            end[names.RESPONSE_FINISH_REASONS] = (final.finish_reason,)
        input_tokens = final.input_tokens
        output_tokens = final.output_tokens
        if input_tokens is not None:  # a stream's final chunk may not know its usage
            end[names.USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            end[names.USAGE_OUTPUT_TOKENS] = output_tokens
        if final.cached_input_tokens:
            end[names.USAGE_CACHE_READ_INPUT_TOKENS] = final.cached_input_tokens
        if final.cache_write_tokens:
            end[names.USAGE_CACHE_CREATION_INPUT_TOKENS] = final.cache_write_tokens
        if final.reasoning_tokens:
            end[names.USAGE_REASONING_OUTPUT_TOKENS] = final.reasoning_tokens
        if final.cost_usd is not None:
            end[names.COST_USD] = final.cost_usd
        if cache_hit is not None:
            end[names.CACHE_HIT] = cache_hit
        if attempts is not None and attempts > 1:
            end[names.ATTEMPTS] = attempts
        if op.first_chunk is not None:
            end[names.RESPONSE_TIME_TO_FIRST_CHUNK] = op.first_chunk - op.started
        if self.capture_content:
            content: Any = final.parts or (
                "".join(op.text) if op.text is not None else getattr(final, "text", "")
            )
            end[names.OUTPUT_MESSAGES] = self.redact(
                output_messages(content, final.tool_calls, final.finish_reason)
            )
        span = op.span
        span.set_attributes(end)
        span.end()
        attributes = self._metric_attributes(op, final.model)
        self.duration.record(elapsed, attributes)
        if op.first_chunk is not None:
            self.first_chunk.record(op.first_chunk - op.started, attributes)
        if not count_tokens or cache_hit:
            return  # a cache hit billed nothing; a parent's tokens are its children's
        if input_tokens is not None:
            self.tokens.record(input_tokens, {**attributes, names.TOKEN_TYPE: names.TOKEN_INPUT})
        if output_tokens is not None:
            self.tokens.record(output_tokens, {**attributes, names.TOKEN_TYPE: names.TOKEN_OUTPUT})
        if final.cost_usd is not None:
            self.cost.record(final.cost_usd, attributes)

    def fail(self, op: Operation, error: BaseException, *, cancelled: bool = False) -> None:
        """End ``op`` with ``error`` (or a cancellation)."""
        if op.ended:
            return
        op.ended = True
        elapsed = time.perf_counter() - op.started
        kind = error_type(error)
        span = op.span
        end: dict[str, Any] = {names.ERROR_TYPE: kind}
        if cancelled:
            end[names.OUTCOME] = "cancelled"
        span.set_attributes(end)
        status, error_code = self._status
        span.set_status(status(error_code, "cancelled" if cancelled else self.describe(error)))
        span.end()
        self.duration.record(elapsed, {**op.metric_attributes, names.ERROR_TYPE: kind})

    def abandon(self, op: Operation, outcome: str = "abandoned") -> None:
        """End a stream's ``op`` that ended before its final chunk, without an error.

        ``abandoned``: its consumer stopped reading; ``incomplete``: the stream below
        ended without a final chunk.
        """
        if op.ended:
            return
        op.ended = True
        op.span.set_attribute(names.OUTCOME, outcome)
        op.span.end()
        self.duration.record(time.perf_counter() - op.started, op.metric_attributes)

    def describe(self, error: BaseException) -> str:
        """A status description: Aether's message (keys scrubbed), else the class name only.

        Aether's own errors are written to carry no secret; any other exception's text is
        unknown, so only its type is shown.
        """
        if isinstance(error, AetherError):
            return self.redact(f"{error_type(error)}: {error}")[:500]
        return error_type(error)

    def exception_event(self, span: Span, error: BaseException, attempt: int | None) -> None:
        """Record a failed attempt as an ``exception`` event on ``span``."""
        attributes: dict[str, Any] = {names.EXCEPTION_TYPE: error_type(error)}
        if isinstance(error, AetherError):
            attributes[names.EXCEPTION_MESSAGE] = self.redact(str(error))[:500]
        if attempt is not None:
            attributes[names.ATTEMPT] = attempt
        span.add_event(names.EXCEPTION_EVENT, attributes)
