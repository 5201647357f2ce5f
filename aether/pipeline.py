"""The onion: middlewares composed once around a provider, for calls and for streams.

A call middleware is ``async def mw(request, call_next) -> LLMResponse``. A stream
middleware is an async generator ``async def mw(request, call_next)`` that iterates
``call_next(request)`` and yields chunks. An object can serve both modes with methods
named ``call`` and ``stream`` of those shapes. The first middleware in a list is the
outermost in both modes.

No silent bypass: a middleware that has no stream mode is never skipped quietly when the
client streams. Streaming through a pipeline that holds one raises `MiddlewareError`
naming it, unless it was wrapped in `calls_only` to say "skip me in streams, on purpose"
(and likewise `streams_only` for the other direction). `on_request` turns a plain
request transform into a middleware that runs in both modes.

A provider that does not declare ``structured_output = True`` (one of your own) gets
structured output anyway: the pipeline asks for it in the instructions (``prompted``)
or through a tool (``tool``) on its behalf (see `aether.llm._output_modes`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aether.errors import MiddlewareError, ProviderError
from aether.llm._output_modes import without_native_output
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream, stream_response

__all__ = [
    "CallMiddleware",
    "CallNext",
    "Pipeline",
    "StreamMiddleware",
    "StreamNext",
    "calls_only",
    "middleware_name",
    "on_request",
    "streams_only",
]

CallNext = Callable[[LLMRequest], Awaitable[LLMResponse]]
"""What a call middleware awaits to pass the request inward."""

StreamNext = Callable[[LLMRequest], AsyncIterator[StreamChunk]]
"""What a stream middleware iterates to pass the request inward."""

CallMiddleware = Callable[[LLMRequest, CallNext], Awaitable[LLMResponse]]
StreamMiddleware = Callable[[LLMRequest, StreamNext], AsyncIterator[StreamChunk]]

Mode = Literal["call", "stream"]


def middleware_name(middleware: object) -> str:
    """A readable name for a middleware or provider: its ``name``, function or class name."""
    name = getattr(middleware, "name", None)
    if isinstance(name, str) and name:
        return name
    function_name = getattr(middleware, "__name__", None)
    if isinstance(function_name, str):
        return function_name
    return type(middleware).__name__


class _ModeDeclaration:
    """A middleware wrapped by `calls_only` or `streams_only`."""

    __slots__ = ("middleware", "mode")

    def __init__(self, middleware: object, mode: Mode) -> None:
        self.middleware = middleware
        self.mode = mode

    def __repr__(self) -> str:
        helper = "calls_only" if self.mode == "call" else "streams_only"
        return f"{helper}({middleware_name(self.middleware)})"


def calls_only(middleware: object) -> object:
    """Declare that ``middleware`` runs for calls and is skipped in streams on purpose."""
    return _ModeDeclaration(middleware, "call")


def streams_only(middleware: object) -> object:
    """Declare that ``middleware`` runs for streams and is skipped for calls on purpose."""
    return _ModeDeclaration(middleware, "stream")


class _RequestTransform:
    """A middleware built from ``transform(request) -> request``, for both modes."""

    __slots__ = ("_is_async", "_transform", "name")

    def __init__(self, transform: Callable[[LLMRequest], Any]) -> None:
        self._transform = transform
        self._is_async = inspect.iscoroutinefunction(transform)
        self.name = middleware_name(transform)

    async def _apply(self, request: LLMRequest) -> LLMRequest:
        result = self._transform(request)
        if self._is_async:
            result = await result
        if not isinstance(result, LLMRequest):
            raise MiddlewareError(
                f"request transform {self.name} returned {type(result).__name__}, not an "
                f"LLMRequest; return request.model_copy(update=...) or the request itself"
            )
        return result

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return await call_next(await self._apply(request))

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        inner = call_next(await self._apply(request))
        try:
            async for chunk in inner:
                yield chunk
        finally:
            await aclose_stream(inner)


def on_request(transform: Callable[[LLMRequest], Any]) -> object:
    """Make a middleware for both modes from a sync or async request transform."""
    return _RequestTransform(transform)


@dataclass(slots=True, frozen=True)
class _Layer:
    name: str
    call: CallMiddleware | None
    stream: StreamMiddleware | None
    declared: Mode | None


def _layer(middleware: object) -> _Layer:
    declared: Mode | None = None
    if isinstance(middleware, _ModeDeclaration):
        declared = middleware.mode
        middleware = middleware.middleware
    name = middleware_name(middleware)
    call: Any = None
    stream: Any = None
    if inspect.isasyncgenfunction(middleware):
        stream = middleware
    elif inspect.iscoroutinefunction(middleware):
        call = middleware
    else:
        call = getattr(middleware, "call", None)
        stream = getattr(middleware, "stream", None)
        if call is None and stream is None and callable(middleware):
            dunder = middleware.__call__
            if inspect.isasyncgenfunction(dunder):
                stream = middleware
            elif inspect.iscoroutinefunction(dunder):
                call = middleware
    if stream is not None and inspect.iscoroutinefunction(stream):
        raise MiddlewareError(
            f"{name}.stream is an `async def` that returns instead of yielding: a stream "
            f"middleware is an async generator (`async for chunk in call_next(request): "
            f"yield chunk`)"
        )
    if call is not None and inspect.isasyncgenfunction(call):
        raise MiddlewareError(
            f"{name}.call is an async generator: a call middleware is an `async def` that "
            f"returns `await call_next(request)` (put the generator in `stream`)"
        )
    if call is None and stream is None:
        raise MiddlewareError(
            f"{name!r} is not a middleware: give an `async def mw(request, call_next)`, an "
            f"async generator of the same shape, or an object with `call` and/or `stream` "
            f"methods"
        )
    if declared == "call":
        stream = None
    elif declared == "stream":
        call = None
    return _Layer(name, call, stream, declared)


def _bind_call(middleware: CallMiddleware, call_next: CallNext) -> CallNext:
    def handler(request: LLMRequest) -> Awaitable[LLMResponse]:
        return middleware(request, call_next)

    return handler


def _bind_stream(middleware: StreamMiddleware, call_next: StreamNext) -> StreamNext:
    def handler(request: LLMRequest) -> AsyncIterator[StreamChunk]:
        return middleware(request, call_next)

    return handler


def _checked_complete(provider: Any) -> CallNext:
    """``provider.complete``, failing clearly when it returns something else than a response.

    Without the check, a provider returning ``None`` fails with an ``AttributeError``
    deep in the layer that first reads the response (cost tracking, usually).
    """
    complete = provider.complete
    name = middleware_name(provider)

    async def checked(request: LLMRequest) -> LLMResponse:
        response = await complete(request)
        if not isinstance(response, LLMResponse):
            raise ProviderError(
                f"the {name} provider's complete() returned {type(response).__name__}, not "
                f"an LLMResponse: end it with `return LLMResponse(text=..., model=...)`",
                provider=name,
            )
        return response

    return checked


def _provider_stream(provider: Any, complete: CallNext) -> StreamNext:
    stream = getattr(provider, "stream", None)
    if stream is not None:
        return stream  # type: ignore[no-any-return]

    async def stream_via_complete(request: LLMRequest) -> AsyncIterator[StreamChunk]:
        async for chunk in stream_response(await complete(request)):
            yield chunk

    return stream_via_complete


def _missing_mode_error(names: list[str], mode: Mode) -> MiddlewareError:
    have, missing = ("calls", "stream") if mode == "stream" else ("streams", "call")
    listed = ", ".join(names)
    wrapper = "calls_only" if mode == "stream" else "streams_only"
    return MiddlewareError(
        f"middleware {listed} handle{'s' if len(names) == 1 else ''} {have} only, so "
        f"this {mode} would skip {'it' if len(names) == 1 else 'them'}. Give "
        f"{'it' if len(names) == 1 else 'each'} a {missing} mode (an object with both "
        f"`call` and `stream` methods, or aether.pipeline.on_request for a request "
        f"transform), or wrap it in aether.pipeline.{wrapper}(...) to skip it on purpose."
    )


class Pipeline:
    """Middlewares composed once around a provider, for calls and streams.

    ``Pipeline([outer, inner], provider)``: ``outer`` sees the request first and the
    response last. Composition happens here, once; a call only walks the closures.
    """

    __slots__ = (
        "_call",
        "_call_gaps",
        "_layers",
        "_stream",
        "_stream_gaps",
        "provider",
        "provider_name",
    )

    _call: CallNext
    _stream: StreamNext
    _call_gaps: tuple[str, ...]
    _stream_gaps: tuple[str, ...]
    _layers: list[_Layer]
    provider: Any
    provider_name: str

    def __init__(
        self,
        middleware: Sequence[object],
        provider: Any,
        *,
        _inner: Pipeline | None = None,
    ) -> None:
        layers = [_layer(item) for item in middleware]
        if _inner is not None:
            call: CallNext = _inner._call
            stream: StreamNext = _inner._stream
            self.provider = _inner.provider
            self.provider_name = _inner.provider_name
            call_gaps = list(_inner._call_gaps)
            stream_gaps = list(_inner._stream_gaps)
            all_layers = [*layers, *_inner._layers]
        else:
            if not callable(getattr(provider, "complete", None)):
                raise MiddlewareError(
                    f"{middleware_name(provider)!r} is not a provider: it needs an "
                    f"`async def complete(self, request)` method"
                )
            call = _checked_complete(provider)
            stream = _provider_stream(provider, call)
            if not getattr(provider, "structured_output", False):
                call, stream = without_native_output(middleware_name(provider), call, stream)
            self.provider = provider
            self.provider_name = middleware_name(provider)
            call_gaps, stream_gaps = [], []
            all_layers = layers
        for layer in reversed(layers):
            if layer.call is not None:
                call = _bind_call(layer.call, call)
            elif layer.declared is None:
                call_gaps.append(layer.name)
            if layer.stream is not None:
                stream = _bind_stream(layer.stream, stream)
            elif layer.declared is None:
                stream_gaps.append(layer.name)
        self._layers = all_layers
        self._call = call
        self._stream = stream
        self._call_gaps = tuple(call_gaps)
        self._stream_gaps = tuple(stream_gaps)

    @property
    def names(self) -> list[str]:
        """The middleware names, outermost first, then the provider's."""
        return [layer.name for layer in self._layers] + [self.provider_name]

    def wrap(self, middleware: Sequence[object]) -> Pipeline:
        """A new pipeline with ``middleware`` outside this one (for per-call middleware)."""
        return Pipeline(middleware, None, _inner=self)

    def complete(self, request: LLMRequest) -> Awaitable[LLMResponse]:
        """Send ``request`` through the call chain.

        Raises:
            MiddlewareError: If a middleware in the chain has no call mode.
        """
        if self._call_gaps:
            raise _missing_mode_error(list(self._call_gaps), "call")
        return self._call(request)

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Send ``request`` through the stream chain; iterate the result for chunks.

        Raises:
            MiddlewareError: If a middleware in the chain has no stream mode.
        """
        if self._stream_gaps:
            raise _missing_mode_error(list(self._stream_gaps), "stream")
        return self._stream(request)

    def __repr__(self) -> str:
        def describe(layer: _Layer) -> str:
            if layer.call is not None and layer.stream is not None:
                return layer.name
            return f"{layer.name}[{'call' if layer.call is not None else 'stream'} only]"

        parts = [describe(layer) for layer in self._layers] + [self.provider_name]
        return f"Pipeline({' → '.join(parts)})"
