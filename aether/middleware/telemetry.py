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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, ToolCall
from aether.llm.streaming import aclose_stream
from aether.middleware import _telemetry_names as names
from aether.middleware._context import ATTEMPT
from aether.middleware._telemetry_content import Redactor, arguments_json
from aether.middleware._telemetry_record import Operation, Recorder
from aether.middleware._tool_rounds import TOOL_WRAPPERS
from aether.middleware.cache import CACHE_STATUS
from aether.pipeline import CallNext, StreamNext
from aether.tools._dispatch import DispatchOutcome

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["TelemetryMiddleware"]

logger = logging.getLogger("aether.telemetry")


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


@dataclass(slots=True)
class _RequestTrace:
    """The request context's record of an open ``invoke_agent`` span."""

    span: Span
    model_calls: int = 0


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
        self.model_calls = _ModelCallLayer(self)
        """The layer for right inside the tool loop: a ``chat`` span per model call."""
        self.attempts = _AttemptLayer(self)
        """The layer for right inside retry: an ``exception`` event per failed attempt."""
        try:
            from opentelemetry import trace
            from opentelemetry.metrics import _internal as metrics_internal
        except ImportError:
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
        return self._call(recorder, request, call_next)

    def _open(self, recorder: Recorder, request: LLMRequest, *, stream: bool) -> Operation:
        if not request.tools:
            return recorder.model_call(request, names.CHAT, parent=None, stream=stream)
        op = recorder.model_call(request, names.INVOKE_AGENT, parent=None, stream=stream)
        context = request.context
        context[self._key] = _RequestTrace(op.span)
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
                cache_hit=_cache_hit(context),
                attempts=context.get(ATTEMPT),
            )
            return
        trace = context.get(self._key)
        # The tokens of a tool loop are its model calls'; counted here only when no
        # model_calls layer below counted them.
        counted = isinstance(trace, _RequestTrace) and trace.model_calls > 0
        recorder.finish(op, final, count_tokens=not counted)

    async def _call(
        self, recorder: Recorder, request: LLMRequest, call_next: CallNext
    ) -> LLMResponse:
        op = self._open(recorder, request, stream=False)
        token = recorder.attach(op.span)
        try:
            response = await call_next(request)
        except BaseException as error:
            _fail(recorder, op, error)
            raise
        finally:
            recorder.detach(token)
        self._finish(recorder, request, op, response)
        return response

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Record the logical stream, from its start to its end, cancellation or abandonment."""
        recorder = self._recorder or self._resolve()
        if recorder is None:
            return call_next(request)
        op = self._open(recorder, request, stream=True)
        return _traced_stream(
            recorder,
            op,
            call_next(request),
            lambda final: self._finish(recorder, request, op, final),
            attach=op.operation == names.CHAT,
        )

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
            parent=trace.span if isinstance(trace, _RequestTrace) else None,
        )
        token = recorder.attach(op.span)
        try:
            outcome = await dispatch()
        except BaseException as error:
            _fail(recorder, op, error)
            raise
        finally:
            recorder.detach(token)
        if outcome.error is not None:
            recorder.fail(op, outcome.error)
            return outcome
        if recorder.capture_content:
            op.span.set_attribute(names.TOOL_CALL_RESULT, recorder.redact(outcome.result.content))
        op.ended = True
        op.span.end()
        recorder.duration.record(outcome.duration_seconds, op.metric_attributes)
        return outcome

    def __repr__(self) -> str:
        return (
            f"TelemetryMiddleware(provider={self.provider!r}, "
            f"capture_content={self.capture_content!r})"
        )


def _cache_hit(context: dict[str, Any]) -> bool | None:
    status = context.get(CACHE_STATUS)
    return None if status is None else status == "hit"


def _fail(recorder: Recorder, op: Operation, error: BaseException) -> None:
    recorder.fail(op, error, cancelled=isinstance(error, anyio.get_cancelled_exc_class()))


async def _traced_stream(
    recorder: Recorder,
    op: Operation,
    inner: AsyncIterator[StreamChunk],
    finish: Callable[[StreamChunk], None],
    *,
    attach: bool,
) -> AsyncIterator[StreamChunk]:
    """``inner`` unchanged, with ``op`` ended at the final chunk, an error, or the close.

    The span is made current only while the first chunk is awaited (the handshake, where
    retry's attempts run), never across a ``yield``.
    """
    text = op.text
    try:
        token = recorder.attach(op.span) if attach else None
        try:
            chunk = await inner.__anext__()
        except StopAsyncIteration:
            return
        finally:
            if token is not None:
                recorder.detach(token)
        op.first_chunk = time.perf_counter()
        while True:
            if text is not None:
                if chunk.kind == "text":
                    text.append(chunk.text)
                else:
                    text.clear()  # the answer is the text after the last tool chunk
            if chunk.finish_reason is not None:
                # Before the final chunk is yielded: a consumer may stop right there.
                finish(chunk)
            yield chunk
            try:
                chunk = await inner.__anext__()
            except StopAsyncIteration:
                return
    except GeneratorExit:
        recorder.abandon(op)
        raise
    except BaseException as error:
        _fail(recorder, op, error)
        raise
    finally:
        if not op.ended:
            recorder.abandon(op, "incomplete")  # the inner stream ended without a final chunk
        await aclose_stream(inner)


class _ModelCallLayer:
    """``TelemetryMiddleware.model_calls``: a ``chat {model}`` span per model call of a loop.

    Requests without tools pass through: the outer layer's ``chat`` span is their one
    model call. Each span's parent is the request's ``invoke_agent`` span; whether the
    response cache answered it is read from ``request.context[CACHE_STATUS]``.
    """

    name = "Telemetry.model_calls"

    __slots__ = ("_owner",)

    def __init__(self, owner: TelemetryMiddleware) -> None:
        self._owner = owner

    def _open(self, recorder: Recorder, request: LLMRequest, *, stream: bool) -> Operation:
        trace = request.context.get(self._owner._key)
        parent = None
        if isinstance(trace, _RequestTrace):
            trace.model_calls += 1
            parent = trace.span
        return recorder.model_call(request, names.CHAT, parent=parent, stream=stream)

    def _finish(self, recorder: Recorder, request: LLMRequest, op: Operation, final: Any) -> None:
        context = request.context
        recorder.finish(op, final, cache_hit=_cache_hit(context), attempts=context.get(ATTEMPT))

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Record one model call of a tool loop."""
        recorder = self._owner._recorder
        if recorder is None or not request.tools:
            return call_next(request)
        return self._call(recorder, request, call_next)

    async def _call(
        self, recorder: Recorder, request: LLMRequest, call_next: CallNext
    ) -> LLMResponse:
        op = self._open(recorder, request, stream=False)
        token = recorder.attach(op.span)
        try:
            response = await call_next(request)
        except BaseException as error:
            _fail(recorder, op, error)
            raise
        finally:
            recorder.detach(token)
        self._finish(recorder, request, op, response)
        return response

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Record one streamed model call of a tool loop."""
        recorder = self._owner._recorder
        if recorder is None or not request.tools:
            return call_next(request)
        op = self._open(recorder, request, stream=True)
        return _traced_stream(
            recorder,
            op,
            call_next(request),
            lambda final: self._finish(recorder, request, op, final),
            attach=True,
        )

    def __repr__(self) -> str:
        return f"{self._owner!r}.model_calls"


class _AttemptLayer:
    """``TelemetryMiddleware.attempts``: each failed attempt as an event on the current span.

    Inside retry, every attempt passes here; one that fails adds an ``exception`` event
    (type, Aether's message, ``aether.attempt``) to the current span, the model call's.
    A stream is watched until its first chunk, the only part retry repeats.
    """

    name = "Telemetry.attempts"

    __slots__ = ("_owner",)

    def __init__(self, owner: TelemetryMiddleware) -> None:
        self._owner = owner

    def _record(self, request: LLMRequest, error: BaseException) -> None:
        recorder = self._owner._recorder
        if recorder is None:
            return
        from opentelemetry import trace

        span = trace.get_current_span()
        if span.is_recording():
            recorder.exception_event(span, error, request.context.get(ATTEMPT))

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Pass the attempt on; record it if it fails."""
        if self._owner._recorder is None:
            return call_next(request)
        return self._call(request, call_next)

    async def _call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        try:
            return await call_next(request)
        except Exception as error:
            self._record(request, error)
            raise

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Pass the attempt's stream on; record it if it fails before its first chunk."""
        if self._owner._recorder is None:
            return call_next(request)
        return _FirstChunkWatch(self, request, call_next(request))

    def __repr__(self) -> str:
        return f"{self._owner!r}.attempts"


class _FirstChunkWatch:
    """A stream that records a failure before its first chunk, then steps aside."""

    __slots__ = ("_inner", "_layer", "_request", "_started")

    def __init__(
        self, layer: _AttemptLayer, request: LLMRequest, inner: AsyncIterator[StreamChunk]
    ) -> None:
        self._layer = layer
        self._request = request
        self._inner = inner
        self._started = False

    def __aiter__(self) -> _FirstChunkWatch:
        return self

    def __anext__(self) -> Awaitable[StreamChunk]:
        if self._started:
            return self._inner.__anext__()
        self._started = True
        return self._first()

    async def _first(self) -> StreamChunk:
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as error:
            self._layer._record(self._request, error)
            raise

    async def aclose(self) -> None:
        """Close the inner stream."""
        await aclose_stream(self._inner)
