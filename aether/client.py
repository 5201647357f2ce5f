"""The `Aether` facade: the front door for asking, streaming and observing."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from pydantic import ValidationError

from aether import config as settings
from aether._call_options import (
    CALL_OPTIONS,
    CallOptions,
    call_tools,
    reuse_request,
    unknown_options,
)
from aether._client_inputs import (
    BASIC_OPTIONS,
    cache_control,
    check_tool_choice,
    conversation,
    default_tools,
    invalid_request,
    stop_sequences,
)
from aether._client_stack import assemble, start_toolsets, unknown_arguments
from aether._stream_events import observe_stream, observes_streams
from aether.config import ProviderConfig
from aether.errors import ConfigurationError
from aether.events import EventBus
from aether.extensions.memory.in_memory import InMemorySessionStore
from aether.llm.contracts import LLMRequest, LLMResponse, Message, Part, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.memory.contracts import SessionStore
from aether.memory.session import Session
from aether.memory.window import HistoryWindow, approximate_tokens
from aether.middleware.circuit_breaker import CircuitBreakerMiddleware, CircuitBreakerPolicy
from aether.middleware.retry import RetryPolicy
from aether.middleware.structured_output import (
    StructuredOutputMiddleware,
    output_schema_for,
    structured_answer,
)
from aether.pipeline import Pipeline
from aether.pricing import ModelPricing
from aether.tools.registry import ToolLike
from aether.usage import Usage

if TYPE_CHECKING:  # loaded when used: ``import aether`` does not load them
    from aether.middleware.cache import CacheBackend, CacheMiddleware
    from aether.middleware.telemetry import TelemetryMiddleware

__all__ = ["Aether", "CallOptions", "Prompt"]

Prompt = str | Sequence[Message | str | Part] | LLMRequest
"""A single user turn (text, or a list of parts and strings), a whole conversation (a
list of `Message`), or a ready-made request. (One sequence type, so that type checkers
infer either list from the call.)"""

_SubscriberT = TypeVar("_SubscriberT", bound=Callable[..., Any])
_T = TypeVar("_T")


class Aether:
    """An LLM client: a provider wrapped in a middleware pipeline.

    ``Aether()`` builds the provider named by ``LLM_PROVIDER`` and the default stack
    around it. ``Aether(config=ProviderConfig(...))`` builds a named provider explicitly,
    and ``Aether(provider)`` wraps a ready provider object.

    Args:
        provider: A provider instance (anything with ``async def complete(request)``).
        config: How to build the provider, instead of reading ``LLM_PROVIDER``.
        middleware: Your middlewares, outermost first; they wrap the default stack.
        stack: The whole stack, outermost first, replacing the default one (then
            ``middleware`` and the ``with_*`` switches must not be given).
        events: An `EventBus` to share with other clients.
        with_retry: Include retry in the default stack.
        with_circuit_breaker: Include the circuit breaker in the default stack.
        with_cost_tracking: Include cost tracking in the default stack.
        retry: How the default stack retries (attempts, backoff, the Retry-After cap).
        circuit_breaker: When the default stack's circuits open, and for how long.
        budget_usd: Refuse calls with `BudgetExceededError` once this much is spent.
        prices: Your prices by model name, over those of the genai-prices library.
        memory_store: Where sessions keep their histories; a fresh
            `InMemorySessionStore` by default. Share one across clients.
        cache: Cache responses (off by default): ``True`` for an in-memory cache, a
            backend (`InMemoryCacheBackend`, `RedisCacheBackend`, your own), or a
            `CacheMiddleware` to share its single flight and stats across clients. It
            sits inside the tool loop and outside cost tracking.
        telemetry: Record OpenTelemetry GenAI spans and metrics (off by default): ``True``
            for the global tracer and meter providers, or a `TelemetryMiddleware` (your
            providers, content capture). Needs ``aether-llm[otel]``.
        tools: Tools every call offers (names, functions, `Tool` objects, toolsets such
            as `aether.mcp.MCPToolset`). A call's own ``tools=`` adds to them, and one
            of its tools replaces a default tool of the same name; ``tool_choice="none"``
            keeps a call from using them. ``async with client:`` starts and stops the
            toolsets given here.

    Attributes:
        usage: Tokens and cost counted so far (`Usage`): ``client.usage.total_cost_usd``.
        pipeline: The composed stack; ``repr(client.pipeline)`` shows its order.
        cache: The stack's response cache, to read ``cache.stats`` (``None`` without one).
        circuit_breaker: The stack's circuit breaker, to read circuit states (``None``
            without one).
        events: The `EventBus` the client emits to (``client.on(...)`` subscribes).
        provider: The provider at the bottom of the stack.
        memory_store: Where sessions keep their histories.

    Raises:
        ConfigurationError: On conflicting arguments, an unknown provider, or a missing
            API key (the message names the variable to set).
        TypeError: On an unknown argument, naming the likely one (``retries`` → ``retry``).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Aether:
        # Checked before __init__, whose own TypeError would suggest nothing (a subclass
        # with an __init__ of its own checks its own arguments).
        if cls.__init__ is Aether.__init__ and kwargs.keys() - _ARGUMENTS:
            raise unknown_arguments(cls.__name__, set(kwargs.keys() - _ARGUMENTS), _ARGUMENTS)
        return super().__new__(cls)

    def __init__(
        self,
        provider: Any = None,
        /,
        *,
        config: ProviderConfig | None = None,
        middleware: Sequence[object] = (),
        stack: Sequence[object] | None = None,
        events: EventBus | None = None,
        with_retry: bool = True,
        with_circuit_breaker: bool = True,
        with_cost_tracking: bool = True,
        retry: RetryPolicy | None = None,
        circuit_breaker: CircuitBreakerPolicy | None = None,
        budget_usd: float | None = None,
        prices: Mapping[str, ModelPricing] | None = None,
        memory_store: SessionStore | None = None,
        cache: CacheMiddleware | CacheBackend | bool | None = None,
        telemetry: TelemetryMiddleware | bool = False,
        tools: Sequence[ToolLike] = (),
    ) -> None:
        built = assemble(
            provider, config=config, middleware=middleware, stack=stack, events=events,
            with_retry=with_retry, with_circuit_breaker=with_circuit_breaker,
            with_cost_tracking=with_cost_tracking, retry=retry, circuit_breaker=circuit_breaker,
            budget_usd=budget_usd, prices=prices, cache=cache, telemetry=telemetry,
        )  # fmt: skip
        self.provider_name: str = built.provider_name
        self.provider: Any = built.provider
        self.events: EventBus = built.events
        self.usage: Usage = built.usage
        self.circuit_breaker: CircuitBreakerMiddleware | None = built.circuit_breaker
        """The stack's circuit breaker, to read circuit states (``None`` if it has none)."""
        self.cache: CacheMiddleware | None = built.cache
        """The stack's response cache, to read ``cache.stats`` (``None`` if it has none)."""
        self.pipeline: Pipeline = built.pipeline
        self._structured = built.structured
        self.memory_store: SessionStore = (
            memory_store if memory_store is not None else InMemorySessionStore()
        )
        self._sessions: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()
        self._closed = False
        self.tools: tuple[ToolLike, ...] = default_tools(tools)
        """The tools every call offers (``tools=`` of the constructor)."""
        self._started: list[AsyncExitStack] = []

    @property
    def default_model(self) -> str | None:
        """The model used when a call names none: the provider's default."""
        model = getattr(self.provider, "default_model", None)
        return model if isinstance(model, str) else None

    # -- building requests -------------------------------------------------------------

    def request(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> LLMRequest:
        """Build the `LLMRequest` that a call with these arguments would send.

        Raises:
            ToolError: If ``tools`` names an unknown tool (nothing is sent).
            ConfigurationError: If the prompt or an option is invalid (a temperature out
                of range, a ``tool_choice`` naming no offered tool...), naming each one.
            TypeError: If an option is unknown (a typo), naming the options there are.
        """
        if isinstance(prompt, LLMRequest):
            return reuse_request(prompt, options, output_type)
        if isinstance(prompt, str):
            messages: tuple[Message, ...] = (Message(role="user", content=prompt),)
        else:
            messages = conversation(prompt)
        temperature = options.get("temperature")
        fields: dict[str, Any] = {
            "messages": messages,
            "model": options.get("model") or self.default_model,
            "temperature": settings.default_temperature(temperature),
        }
        if temperature is None and fields["temperature"] is not None:
            # Recorded, so an adapter can leave it out for a model that refuses it.
            fields["defaults"] = {"temperature": fields["temperature"]}
        if self.tools or options.get("tools"):
            fields["tools"] = call_tools(self.tools, options.get("tools") or ())
        if options.keys() - BASIC_OPTIONS:
            # Only the options given reach validation, which runs on every call.
            if options.keys() - CALL_OPTIONS:
                raise unknown_options(set(options.keys() - CALL_OPTIONS))
            for name in ("max_tokens", "top_p", "tool_choice", "reasoning", "provider_options"):
                if name in options:
                    fields[name] = options[name]
            if "stop" in options:
                fields["stop"] = stop_sequences(options["stop"])
            context = dict(options.get("context") or {})
            if options.get("cache") is not None:
                context[cache_control()] = options["cache"]
            if context:
                fields["context"] = context
            check_tool_choice(fields.get("tool_choice"), fields.get("tools", ()))
            if output_type is None:
                output_schema_for(None, options, {})  # output options without a type: refused
        if output_type is not None:
            context = dict(fields.get("context", {}))
            fields["output"] = output_schema_for(output_type, options, context)
            if context:
                fields["context"] = context
        try:
            return LLMRequest(**fields)
        except ValidationError as error:
            raise invalid_request(error) from None

    def _pipeline_for(self, options: CallOptions) -> Pipeline:
        extra = options.get("middleware")
        return self.pipeline.wrap(extra) if extra else self.pipeline

    # -- calls ---------------------------------------------------------------------------

    def _pipeline_checked(self, request: LLMRequest, options: CallOptions) -> Pipeline:
        pipeline = self._pipeline_for(options)
        if request.output is not None and not self._structured and not any(
            isinstance(layer, StructuredOutputMiddleware) for layer in options.get("middleware", ())
        ):
            raise ConfigurationError(
                "output_type= needs a StructuredOutputMiddleware in the stack, and this "
                "client's stack=[...] has none: build it with default_stack(...), or add "
                "StructuredOutputMiddleware() (outside the tool loop)"
            )
        return pipeline

    @overload
    async def complete(
        self, prompt: Prompt, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> LLMResponse: ...

    @overload
    async def complete(
        self, prompt: Prompt, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> LLMResponse[_T]: ...

    @overload
    async def complete(
        self, prompt: Prompt, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> LLMResponse[dict[str, Any]]: ...

    @overload
    async def complete(
        self, prompt: Prompt, *, output_type: object, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]: ...

    async def complete(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]:
        """Send one request through the pipeline and return the whole response.

        With ``output_type=``, the response's ``output`` is the validated answer (its
        ``text`` the JSON); see `aether.middleware.structured_output`.

        Raises:
            OutputValidationError: If every answer failed validation.
            OutputRefusedError: If the model refused to answer.
        """
        request = self.request(prompt, output_type=output_type, **options)
        return await self._pipeline_checked(request, options).complete(request)

    @overload
    async def ask(
        self, prompt: Prompt, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> str: ...

    @overload
    async def ask(
        self, prompt: Prompt, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> _T: ...

    @overload
    async def ask(
        self, prompt: Prompt, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> dict[str, Any]: ...

    @overload
    async def ask(
        self, prompt: Prompt, *, output_type: object, **options: Unpack[CallOptions]
    ) -> Any: ...

    async def ask(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> Any:
        """Send one request and return the assistant's final text, or with
        ``output_type=`` the validated answer (an ``Invoice`` for ``output_type=Invoice``).

        Raises:
            OutputValidationError: If every answer failed validation.
            OutputRefusedError: If the model refused to answer.
            ToolError: If, asked for a structured answer, the model called a tool you run
                yourself (a `Tool` without a handler): use `complete` to read its calls.
        """
        response = await self.complete(prompt, output_type=output_type, **options)
        if output_type is None:
            return response.text
        return structured_answer(response)

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk, None]: ...

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[_T], None]: ...

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[dict[str, Any]], None]: ...

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: object, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[Any], None]: ...

    async def stream(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[Any], None]:
        """Stream the answer as `StreamChunk` objects, ending with a final chunk.

        With ``output_type=``, each text chunk's ``partial`` is the object parsed so far
        and the final chunk's ``output`` the validated answer.

        To stop early, iterate it inside ``async with contextlib.aclosing(...)``: leaving
        the block closes the provider's HTTP stream at once. A bare ``break`` leaves the
        generator to be closed when it is garbage-collected, at no known point.
        """
        request = self.request(prompt, output_type=output_type, **options)
        inner = self._pipeline_checked(request, options).stream(request)
        if observes_streams(self.events):
            inner = observe_stream(self.events, request, inner)
        try:
            async for chunk in inner:
                yield chunk
        finally:
            await aclose_stream(inner)

    async def stream_text(
        self, prompt: Prompt, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[str, None]:
        """Stream only the text deltas of the answer."""
        inner = self.stream(prompt, **options)
        try:
            async for chunk in inner:
                if chunk.kind == "text" and chunk.text:
                    yield chunk.text
        finally:
            await inner.aclose()

    # -- sessions ------------------------------------------------------------------------

    def session(
        self,
        session_id: str,
        *,
        system: str | None = None,
        max_history_messages: int | None = None,
        max_history_tokens: int | None = None,
        count_tokens: Callable[[Message], int] | None = None,
    ) -> Session:
        """The conversation stored under ``session_id``; the same object for the same id.

        Args:
            session_id: The id its history is stored under in ``memory_store``.
            system: The system message sent first on every turn.
            max_history_messages: Send at most this many stored messages per turn.
            max_history_tokens: Keep each request within this many tokens by leaving out
                the oldest turns. The stored history always stays whole, and the system
                message is always sent.
            count_tokens: Counts a message's tokens for ``max_history_tokens``.

        Raises:
            ConfigurationError: If the session is open with a different ``system`` or cap.
        """
        window = HistoryWindow(
            max_messages=max_history_messages,
            max_tokens=max_history_tokens,
            count_tokens=count_tokens or approximate_tokens,
        )
        existing = self._sessions.get(session_id)
        if existing is not None:
            existing.check_same(system=system, window=window)
            return existing
        session = Session(self, session_id, store=self.memory_store, system=system, window=window)
        self._sessions[session_id] = session
        return session

    # -- events --------------------------------------------------------------------------

    @overload
    def on(self, name: str) -> Callable[[_SubscriberT], _SubscriberT]: ...

    @overload
    def on(self, name: str, callback: _SubscriberT) -> _SubscriberT: ...

    def on(self, name: str, callback: Any = None) -> Any:
        """Subscribe a sync or async callback to an event; usable as a decorator."""
        return self.events.on(name, callback)

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release the provider's connections. Calling it twice does nothing more."""
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self.provider, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> Aether:
        """Start the toolsets given to ``tools=`` (an MCP server's process, say)."""
        self._started.append(await start_toolsets(self.tools))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._started:
                await self._started.pop().__aexit__(exc_type, exc, traceback)
        finally:
            await self.aclose()

    def __repr__(self) -> str:
        return (
            f"Aether(provider={self.provider_name!r}, model={self.default_model!r}, "
            f"pipeline={self.pipeline!r})"
        )


_ARGUMENTS = frozenset(inspect.signature(Aether.__init__).parameters) - {"self", "provider"}
Aether.__signature__ = inspect.signature(Aether.__init__).replace(  # type: ignore[attr-defined]
    parameters=list(inspect.signature(Aether.__init__).parameters.values())[1:],
    return_annotation=inspect.Signature.empty,
)  # help() and inspect show __init__'s arguments, not __new__'s
