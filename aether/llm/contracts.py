"""The data that crosses every boundary of Aether, and the Protocol a provider implements.

Everything here is a frozen pydantic model: a middleware that wants a different request
makes one with ``request.model_copy(update={...})``. The one mutable thing on purpose is
`LLMRequest.context`, a dict shared by every copy of a request, so state that a middleware
puts there survives the tool loop's re-entry into the chain below it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FinishReason",
    "LLMProvider",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "Role",
    "StreamChunk",
    "StreamChunkKind",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
]

Role = Literal["system", "user", "assistant", "tool"]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]
"""Why the model stopped, normalised across providers."""

ToolChoice = Literal["auto", "none", "required"]

StreamChunkKind = Literal["text", "tool_call", "tool_result"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ToolCall(BaseModel):
    """A model's request to run one tool.

    Attributes:
        id: The provider's id for the call; a tool result answers it by this id.
        name: The tool's name.
        arguments: The parsed arguments.
        raw_arguments: The argument text as the model sent it, kept only when it was not a
            JSON object; the tool loop then answers the model with the parse error.
    """

    model_config = _FROZEN

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None


class Message(BaseModel):
    """One turn of a conversation.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: The text. An assistant turn that only calls tools has ``""``.
        tool_calls: The tools an assistant turn asked for.
        tool_call_id: On a ``tool`` turn, the id of the call it answers.
        name: On a ``tool`` turn, the name of the tool that produced it.
    """

    model_config = _FROZEN

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


class Tool(BaseModel):
    """A tool as the model sees it, plus the handler that runs it.

    Providers read ``name``, ``description`` and ``parameters`` (a JSON Schema object).
    ``handler`` is what the tool loop awaits with the model's arguments; it is excluded
    from dumps and reprs, so cache keys and logs see only the schema.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    handler: Callable[[dict[str, Any]], Awaitable[Any]] | None = Field(
        default=None, exclude=True, repr=False
    )


class ToolResult(BaseModel):
    """What one tool dispatch produced, as the model will read it."""

    model_config = _FROZEN

    call_id: str
    name: str
    content: str
    is_error: bool = False


class LLMRequest(BaseModel):
    """One request to a model, as it travels down the middleware chain.

    Attributes:
        messages: The conversation, oldest first.
        model: The model name; ``None`` lets the provider use its default.
        temperature: Sampling temperature, 0 to 2 (the widest range a vendor takes; a
            vendor with a narrower one answers 400); ``None`` sends none.
        max_tokens: Cap on generated tokens, at least 1.
        top_p: Nucleus sampling, 0 to 1.
        stop: Stop sequences.
        tools: Tools the model may call.
        tool_choice: ``auto``, ``none``, ``required`` or the name of one tool.
        provider_options: Vendor-specific parameters, keyed by provider name
            (``{"openai": {"seed": 7}}``); an adapter reads only its own key.
        context: Request-scoped state for middlewares. Shared by every copy of the
            request, so it survives the tool loop's re-entry. Never sent to a provider.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    messages: tuple[Message, ...]
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    stop: tuple[str, ...] | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | str | None = None
    provider_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)


class LLMResponse(BaseModel):
    """A model's complete answer.

    Attributes:
        text: The assistant text.
        model: The model name the server reported.
        input_tokens: Prompt tokens billed, cached ones included.
        output_tokens: Generated tokens billed, reasoning ones included.
        cached_input_tokens: Of ``input_tokens``, how many were read from the cache.
        cache_write_tokens: Of ``input_tokens``, how many were written to the cache.
        reasoning_tokens: Of ``output_tokens``, how many were hidden reasoning.
        tool_calls: Tools the model asked for.
        finish_reason: Why the model stopped, normalised.
        provider: The provider that answered.
        cost_usd: The price of this response, when cost tracking knows it.
        tool_messages: The internal turns the tool loop added (assistant tool calls and
            tool results), oldest first. Sessions keep them out of history.
        response_id: The provider's id for this response (``chatcmpl-...``,
            ``msg_...``), when it sent one.
    """

    model_config = _FROZEN

    text: str = ""
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = "stop"
    provider: str | None = None
    cost_usd: float | None = None
    tool_messages: tuple[Message, ...] = ()
    response_id: str | None = None


class StreamChunk(BaseModel):
    """One piece of a streamed answer.

    A stream is text chunks, then one final chunk whose ``finish_reason`` is set and which
    carries the token counts and the complete tool calls. When the tool loop runs inside
    a stream, it also yields ``tool_call`` and ``tool_result`` chunks between the text.

    Attributes:
        kind: ``text``, ``tool_call`` or ``tool_result``.
        text: The text delta (``""`` on non-text chunks).
        finish_reason: Set on the final chunk only.
        model: The model name, on the final chunk.
        input_tokens: On the final chunk; ``None`` before it.
        output_tokens: On the final chunk; ``None`` before it.
        cached_input_tokens: On the final chunk; ``None`` before it.
        cache_write_tokens: On the final chunk; ``None`` before it.
        reasoning_tokens: On the final chunk; ``None`` before it.
        tool_calls: On the final chunk, the complete tool calls the model asked for.
        tool_call: On a ``tool_call`` chunk, the call about to run.
        tool_result: On a ``tool_result`` chunk, what the call returned.
        provider: The provider that answered, on the final chunk.
        cost_usd: The price of the stream, on the final chunk when cost tracking knows it.
        response_id: The provider's id for the response, on the final chunk.
    """

    model_config = _FROZEN

    kind: StreamChunkKind = "text"
    text: str = ""
    finish_reason: FinishReason | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call: ToolCall | None = None
    tool_result: ToolResult | None = None
    provider: str | None = None
    cost_usd: float | None = None
    response_id: str | None = None

    @property
    def is_final(self) -> bool:
        """Whether this is the stream's final chunk."""
        return self.finish_reason is not None


@runtime_checkable
class LLMProvider(Protocol):
    """What a provider adapter implements.

    ``stream`` is an async generator yielding `StreamChunk`, ending with a final chunk.
    A provider that defines only ``complete`` still streams through Aether: the pipeline
    then yields its whole answer as one text chunk and a final chunk. Providers that hold
    connections also define ``async def aclose(self) -> None``. A provider that talks to a
    server says which with a ``base_url`` attribute (a string); telemetry reports its host
    and port as ``server.address`` and ``server.port``.
    """

    async def complete(self, request: LLMRequest) -> LLMResponse: ...

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]: ...
