"""Telemetry: OpenTelemetry traces and metrics per the GenAI semantic conventions.

::

    client = Aether(telemetry=True)                      # the global tracer and meter providers
    client = Aether(stack=default_stack(telemetry=TelemetryMiddleware(capture_content=True)))

What a logical request records, in the default stack::

    invoke_agent                      (only when tools are offered: the tool loop's request)
    ├── chat gpt-4o                   (one per model call; a cache hit is one too, marked)
    │     └── exception events        (one per failed attempt that retry recovered from)
    ├── execute_tool add              (one per tool call, parallel ones side by side)
    └── chat gpt-4o

A request without tools is a single ``chat {model}`` span. Metrics:
``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage``,
``gen_ai.client.operation.time_to_first_chunk`` (streams) and Aether's
``aether.client.cost`` (dollars).

**Why one middleware at three depths.** What the conventions ask for is visible at
different depths of the onion: the logical request only outside the tool loop, each model
call (and whether the cache answered it) only between the tool loop and the cache, each
retry attempt only inside retry. Rather than teach the tool loop, the cache and retry
about OpenTelemetry, one `TelemetryMiddleware` is placed at each depth, and
`default_stack(telemetry=...)` does it::

    Telemetry → ToolLoop → Telemetry.model_calls → [Cache] → Cost → Breaker → Retry
              → Telemetry.attempts → Events → provider

The three layers share one tracer and one set of instruments. The outer one (the
middleware itself) opens ``invoke_agent`` for a request with tools, or ``chat {model}``
for one without; ``model_calls`` opens a ``chat {model}`` span per model call of a tool
loop (and passes other requests through, which the outer layer already covers);
``attempts`` adds an ``exception`` event for each failed attempt to the current span.
Tool executions are wrapped through the tool loop's documented hook
(`aether.middleware.tool_loop.TOOL_WRAPPERS`), in each call's own task. Placed alone,
the middleware still records each logical request and its tools, only without the
per-model-call detail.

Spans are parented explicitly (the tool loop's model calls and tools under the
``invoke_agent`` span), and a span is made current only around an ``await`` that ends
before the next ``yield``, never across one: an async generator shares its consumer's
context, so a span attached across a ``yield`` would leak into the caller's code.

**Cost when off.** Without ``opentelemetry-api`` installed, or when no tracer or meter
provider is configured, each layer hands the request straight on (no coroutine, no
generator); the providers are looked up at construction, and, while none is configured
yet, a module attribute is read per call so one configured later is picked up.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, ToolCall
from aether.middleware import _telemetry_names as names
from aether.middleware._context import ATTEMPT
from aether.middleware._telemetry_content import Redactor, arguments_json, result_text
from aether.middleware._telemetry_layers import (
    AttemptLayer,
    ModelCallLayer,
    RequestTrace,
    cache_hit,
    fail,
    stream_span,
    traced_call,
)
from aether.middleware._telemetry_record import Operation, Recorder
from aether.middleware._tool_rounds import TOOL_WRAPPERS
from aether.pipeline import CallNext, StreamNext
from aether.tools._dispatch import DispatchOutcome

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["TelemetryMiddleware"]

logger = logging.getLogger("aether.telemetry")

_warned_missing = False
"""Whether the missing-package warning was logged (once per process)."""


def _server(base_url: str | None) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of a base URL (never its credentials or path)."""
    if not base_url:
        return {}
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    port = port or {"https": 443, "http": 80}.get(parts.scheme)
    return {names.SERVER_ADDRESS: host, **({names.SERVER_PORT: port} if port else {})}


def _provider_name(provider: str | None, host: str | None) -> str | None:
    for suffix, name in names.HOSTS if host else ():
        if host == suffix.lstrip(".") or (host and host.endswith(suffix)):
            return name
    return names.PROVIDERS.get(provider, provider) if provider else None


class TelemetryMiddleware:
    """Records OpenTelemetry GenAI spans and metrics for calls and streams.

    Place it outermost (``default_stack(telemetry=...)`` also places `model_calls` right
    inside the tool loop and `attempts` right inside retry; see the module docstring).

    Args:
        provider: The provider's name (``openai``, ``gemini``...), for
            ``gen_ai.provider.name``; without it, the name the response reports is used.
        base_url: The provider's server, for ``server.address`` and ``server.port``.
        capture_content: Record messages, tool definitions, tool arguments and results
            (off by default: they may hold personal data). API keys are redacted.
        tracer_provider: Where spans go; the global tracer provider by default.
        meter_provider: Where metrics go; the global meter provider by default.
    """

    name = "Telemetry"

    __slots__ = (
        "_key",
        "_meter_provider",
        "_modules",
        "_recorder",
        "_redact",
        "_server",
        "_tracer_provider",
        "attempts",
        "capture_content",
        "model_calls",
        "provider",
    )

    def __init__(
        self,
        *,
        provider: str | None = None,
        base_url: str | None = None,
        capture_content: bool = False,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._server = _server(base_url)
        self.provider = _provider_name(provider, self._server.get(names.SERVER_ADDRESS))
        self.capture_content = capture_content
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._redact = Redactor()
        self._key = f"aether.telemetry:{id(self):x}"
        self._recorder: Recorder | None = None
        self._modules: tuple[Any, Any] | None = None
        self.model_calls = ModelCallLayer(self)
        """The layer for right inside the tool loop: a ``chat`` span per model call."""
        self.attempts = AttemptLayer(self)
        """The layer for right inside retry: an ``exception`` event per failed attempt."""
        try:
            from opentelemetry import trace
            from opentelemetry.metrics import _internal as metrics_internal
        except ImportError:
            global _warned_missing
            if not _warned_missing:
                _warned_missing = True
                logger.warning(
                    "TelemetryMiddleware records nothing: opentelemetry-api is not installed "
                    "(pip install 'aether-llm[otel]')"
                )
            return
        self._modules = (trace, metrics_internal)
        self._resolve()

    # -- is OpenTelemetry configured? -----------------------------------------------------

    def _resolve(self) -> Recorder | None:
        """The recorder, built once a tracer or meter provider is configured."""
        modules = self._modules
        if modules is None:
            return None
        trace, metrics_internal = modules
        given = self._tracer_provider is not None or self._meter_provider is not None
        if not given and (
            getattr(trace, "_TRACER_PROVIDER", None) is None
            and getattr(metrics_internal, "_METER_PROVIDER", None) is None
        ):
            return None  # nothing configured yet: checked again on the next call
        from opentelemetry import metrics
        from opentelemetry.metrics import NoOpMeterProvider
        from opentelemetry.trace import NoOpTracerProvider

        from aether import __version__
        from aether.middleware._telemetry_logging import install_log_correlation

        tracer_provider = self._tracer_provider or trace.get_tracer_provider()
        meter_provider = self._meter_provider or metrics.get_meter_provider()
        self._modules = None  # decided: never looked up again
        if isinstance(tracer_provider, NoOpTracerProvider) and isinstance(
            meter_provider, NoOpMeterProvider
        ):
            return None
        install_log_correlation()
        self._recorder = Recorder(
            tracer_provider,
            meter_provider,
            version=__version__,
            provider=self.provider,
            server=self._server,
            capture_content=self.capture_content,
            redact=self._redact,
        )
        return self._recorder

    # -- the logical request ---------------------------------------------------------------

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Record the logical request: ``invoke_agent`` with tools, else ``chat {model}``."""
        recorder = self._recorder or self._resolve()
        if recorder is None:
            return call_next(request)
        return traced_call(self, recorder, request, call_next)

    def _open(self, recorder: Recorder, request: LLMRequest, *, stream: bool) -> Operation:
        if not request.tools:
            return recorder.model_call(request, names.CHAT, parent=None, stream=stream)
        op = recorder.model_call(request, names.INVOKE_AGENT, parent=None, stream=stream)
        context = request.context
        context[self._key] = RequestTrace(op.span)
        wrappers = context.get(TOOL_WRAPPERS, ())
        if self._tool_span not in wrappers:
            context[TOOL_WRAPPERS] = (*wrappers, self._tool_span)
        return op

    def _finish(self, recorder: Recorder, request: LLMRequest, op: Operation, final: Any) -> None:
        context = request.context
        if op.operation == names.CHAT:
            recorder.finish(
                op,
                final,
                cache_hit=cache_hit(context),
                attempts=context.get(ATTEMPT),
            )
            return
        trace = context.get(self._key)
        # The tokens of a tool loop are its model calls'; counted here only when no
        # model_calls layer below counted them.
        counted = isinstance(trace, RequestTrace) and trace.model_calls > 0
        recorder.finish(op, final, count_tokens=not counted)

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Record the logical stream, from its start to its end, cancellation or abandonment."""
        recorder = self._recorder or self._resolve()
        if recorder is None:
            return call_next(request)
        # The chat span is current during the handshake (retry's attempts); invoke_agent
        # is never current in a stream: its children are parented explicitly.
        chat = not request.tools
        return stream_span(self, recorder, request, call_next, attach=chat)

    # -- tools -----------------------------------------------------------------------------

    async def _tool_span(
        self,
        request: LLMRequest,
        call: ToolCall,
        dispatch: Callable[[], Awaitable[DispatchOutcome]],
    ) -> DispatchOutcome:
        recorder = self._recorder
        if recorder is None:
            return await dispatch()
        trace = request.context.get(self._key)
        attributes: dict[str, Any] = {
            names.OPERATION_NAME: names.EXECUTE_TOOL,
            names.TOOL_NAME: call.name,
            names.TOOL_TYPE: names.TOOL_TYPE_FUNCTION,
        }
        if call.id:
            attributes[names.TOOL_CALL_ID] = call.id
        tool = next((tool for tool in request.tools if tool.name == call.name), None)
        if tool is not None and tool.description:
            attributes[names.TOOL_DESCRIPTION] = tool.description
        if recorder.capture_content:
            attributes[names.TOOL_CALL_ARGUMENTS] = recorder.redact(arguments_json(call))
        op = recorder.start(
            f"execute_tool {call.name}",
            names.EXECUTE_TOOL,
            attributes,
            kind="internal",
            parent=trace.span if isinstance(trace, RequestTrace) else None,
        )
        token = recorder.attach(op.span)
        try:
            outcome = await dispatch()
        except BaseException as error:
            fail(recorder, op, error)
            raise
        finally:
            recorder.detach(token)
        if outcome.error is not None:
            recorder.fail(op, outcome.error)
            return outcome
        if recorder.capture_content:
            op.span.set_attribute(
                names.TOOL_CALL_RESULT, recorder.redact(result_text(outcome.result.content))
            )
        op.ended = True
        op.span.end()
        recorder.duration.record(outcome.duration_seconds, op.metric_attributes)
        return outcome

    def __repr__(self) -> str:
        return (
            f"TelemetryMiddleware(provider={self.provider!r}, "
            f"capture_content={self.capture_content!r})"
        )
