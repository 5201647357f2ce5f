"""The data that crosses every boundary of Aether, and the Protocol a provider implements.

Everything here is a frozen pydantic model: a middleware that wants a different request
makes one with ``request.model_copy(update={...})``. The one mutable thing on purpose is
`LLMRequest.context`, a dict shared by every copy of a request, so state that a middleware
puts there survives the tool loop's re-entry into the chain below it.

Content beyond text (images, audio, documents, reasoning, provider-native blocks) lives
in `aether.llm.content` and is re-exported here; token counts travel as one
`TokenCounts` value. Structured output (`aether.llm.output`) travels as an `OutputSchema`
on the request and a typed ``output`` on the response: `LLMResponse` and `StreamChunk`
are generic in it (``LLMResponse[Invoice]``), for type checkers only; a bare
``LLMResponse`` has ``output`` None.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from aether.llm.content import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    part_from_path,
)
from aether.llm.output import OutputMode, OutputSchema, ResolvedOutputMode

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    OutputT = TypeVar("OutputT", default=None)
else:  # at run time no default: pydantic would validate ``output`` against it
    from typing import TypeVar

    OutputT = TypeVar("OutputT")

__all__ = [
    "AudioPart",
    "Content",
    "ContentItem",
    "DocumentPart",
    "FinishReason",
    "ImagePart",
    "LLMProvider",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "OutputMode",
    "OutputSchema",
    "Part",
    "ProviderPart",
    "Reasoning",
    "ReasoningPart",
    "ResolvedOutputMode",
    "Role",
    "StreamChunk",
    "StreamChunkKind",
    "TextPart",
    "TokenCounts",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "content_text",
    "map_content_text",
    "part_from_path",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
"""``developer`` is OpenAI's name for instructions from the app; other providers read it
as a system message."""

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]
"""Why the model stopped, normalised across providers."""

ToolChoice = Literal["auto", "none", "required"]

StreamChunkKind = Literal["text", "reasoning", "tool_call", "tool_result", "output_retry"]

Reasoning = Literal["none", "minimal", "low", "medium", "high"] | int
"""How hard a reasoning model thinks: an effort level, or a budget of thinking tokens."""


def _text_part(value: object) -> object:
    return TextPart(text=value) if isinstance(value, str) else value


ContentItem = Annotated[Part, BeforeValidator(_text_part)]
"""A part; a plain string given in its place becomes a `TextPart`."""

Content = str | tuple[ContentItem, ...]
"""A message's content: text, or an ordered tuple of parts (a list is accepted)."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ToolCall(BaseModel):
    """A model's request to run one tool.

    Attributes:
        id: The provider's id for the call; a tool result answers it by this id.
        name: The tool's name.
        arguments: The parsed arguments.
        raw_arguments: The argument text as the model sent it, kept only when it was not a
            JSON object; the tool loop then answers the model with the parse error.
        signature: An opaque provider signature attached to the call (Gemini's
            ``thought_signature``), sent back with it unchanged.
    """

    model_config = _FROZEN

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None
    signature: str | None = None


def content_text(content: Content) -> str:
    """The text of ``content``: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def map_content_text(content: Content, function: Callable[[str], str]) -> Content:
    """``content`` with ``function`` applied to its text: the string, or each text part.

    Other parts are kept as they are (a reasoning part's text is signed by its provider,
    so changing it would break the signature).
    """
    if isinstance(content, str):
        return function(content)
    return tuple(
        part.model_copy(update={"text": function(part.text)})
        if isinstance(part, TextPart)
        else part
        for part in content
    )


class Message(BaseModel):
    """One turn of a conversation.

    Attributes:
        role: ``system``, ``developer``, ``user``, ``assistant`` or ``tool``.
        content: The text, or an ordered tuple of parts (a list of parts and strings is
            accepted; a string in it becomes a `TextPart`). An assistant turn that only
            calls tools has ``""``.
        tool_calls: The tools an assistant turn asked for.
        tool_call_id: On a ``tool`` turn, the id of the call it answers.
        name: On a ``tool`` turn, the name of the tool that produced it.
    """

    model_config = _FROZEN

    role: Role
    content: Content = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        """The message's text: ``content`` itself, or its text parts joined."""
        return content_text(self.content)

    @property
    def parts(self) -> tuple[Part, ...]:
        """``content`` as parts (a non-empty string is one `TextPart`)."""
        content = self.content
        if isinstance(content, str):
            return (TextPart(text=content),) if content else ()
        return content


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
    """What one tool dispatch produced, as the model will read it.

    ``content`` is text, or parts where the tool returned more than text (an image, say);
    see the providers' docs for what each wire does with parts in a tool result.
    """

    model_config = _FROZEN

    call_id: str
    name: str
    content: Content
    is_error: bool = False

    @property
    def text(self) -> str:
        """The result's text: ``content`` itself, or its text parts joined."""
        return content_text(self.content)


class TokenCounts(BaseModel):
    """The tokens one response (or a sum of them) billed, by kind.

    ``input`` includes cached and cache-write tokens, and ``output`` includes reasoning
    tokens (the convention of every provider's bill); the other counts say how many of
    them were of that kind. Counts add up with ``+``.

    Attributes:
        input: Prompt tokens billed, cached ones included.
        output: Generated tokens billed, reasoning ones included.
        cached_input: Of ``input``, how many were read from the provider's cache.
        cache_write: Of ``input``, how many were written to the provider's cache.
        reasoning: Of ``output``, how many were hidden reasoning.
        input_audio: Of ``input``, how many were audio.
        output_audio: Of ``output``, how many were audio.
        input_image: Of ``input``, how many were images.
    """

    model_config = _FROZEN

    input: int = 0
    output: int = 0
    cached_input: int = 0
    cache_write: int = 0
    reasoning: int = 0
    input_audio: int = 0
    output_audio: int = 0
    input_image: int = 0

    def __add__(self, other: TokenCounts) -> TokenCounts:
        if not isinstance(other, TokenCounts):
            return NotImplemented
        # Validating a dict costs a third of model_construct's keyword handling, and
        # usage adds counts twice per billed call.
        mine, theirs = self.__dict__, other.__dict__
        return TokenCounts.model_validate(
            {name: mine[name] + theirs[name] for name in _COUNT_NAMES}
        )

    @property
    def total(self) -> int:
        """Input and output tokens together."""
        return self.input + self.output


_COUNT_NAMES = tuple(TokenCounts.model_fields)


class _HasTokens(Protocol):
    @property
    def tokens(self) -> TokenCounts: ...


class _FlatCounts:
    """The flat count names of earlier releases, read from ``tokens`` (a mixin)."""

    __slots__ = ()

    @property
    def input_tokens(self: _HasTokens) -> int:
        """Prompt tokens billed, cached ones included (``tokens.input``)."""
        return self.tokens.input

    @property
    def output_tokens(self: _HasTokens) -> int:
        """Generated tokens billed, reasoning ones included (``tokens.output``)."""
        return self.tokens.output

    @property
    def cached_input_tokens(self: _HasTokens) -> int:
        """Of the input tokens, those read from the cache (``tokens.cached_input``)."""
        return self.tokens.cached_input

    @property
    def cache_write_tokens(self: _HasTokens) -> int:
        """Of the input tokens, those written to the cache (``tokens.cache_write``)."""
        return self.tokens.cache_write

    @property
    def reasoning_tokens(self: _HasTokens) -> int:
        """Of the output tokens, the hidden reasoning ones (``tokens.reasoning``)."""
        return self.tokens.reasoning

_LEGACY_COUNTS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cached_input_tokens": "cached_input",
    "cache_write_tokens": "cache_write",
    "reasoning_tokens": "reasoning",
}
"""The flat keyword arguments responses and chunks still take, and their count."""


def _fold_counts(data: Any) -> Any:
    """Move flat ``input_tokens=...`` keywords into ``tokens=TokenCounts(...)``."""
    if not isinstance(data, dict) or data.keys().isdisjoint(_LEGACY_COUNTS):
        return data
    data = dict(data)
    given = {_LEGACY_COUNTS[name]: data.pop(name) for name in list(data) if name in _LEGACY_COUNTS}
    if "tokens" in data:
        raise ValueError("give either tokens=TokenCounts(...) or input_tokens=..., not both")
    known = {name: value for name, value in given.items() if value is not None}
    data["tokens"] = TokenCounts(**known)
    return data


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
        reasoning: How hard a reasoning model thinks: ``"none"``, ``"minimal"``,
            ``"low"``, ``"medium"``, ``"high"``, or a budget of thinking tokens.
        provider_options: Vendor-specific parameters, keyed by provider name
            (``{"openai": {"seed": 7}}``); an adapter reads only its own key.
        output: The schema a structured answer must follow, and how to ask for it
            (``client.ask(..., output_type=...)`` sets it); ``None`` for a text answer.
        context: Request-scoped state for middlewares. Shared by every copy of the
            request, so it survives the tool loop's re-entry. Never sent to a provider.
        defaults: The fields Aether filled in from its settings rather than the caller,
            with the values filled in (``{"temperature": 0.7}`` from
            ``AETHER_DEFAULT_TEMPERATURE``). A field whose value still equals its entry
            here is a default, which an adapter leaves out for a model that does not
            take it; give the field another value and it counts as set.
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
    reasoning: Reasoning | None = None
    provider_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    output: OutputSchema | None = None
    context: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)
    defaults: dict[str, float] = Field(default_factory=dict)

    @field_validator("reasoning", mode="before")
    @classmethod
    def _reasoning_budget(cls, value: object) -> object:
        if isinstance(value, bool) or (isinstance(value, int) and value < 0):
            raise ValueError(
                f"reasoning takes 'none', 'minimal', 'low', 'medium', 'high' or a number of "
                f"thinking tokens (0 or more), not {value!r}"
            )
        return value


class LLMResponse(BaseModel, _FlatCounts, Generic[OutputT]):
    """A model's complete answer.

    Token counts are one `TokenCounts` in ``tokens``; the flat keywords of earlier
    releases (``LLMResponse(text=..., model=..., input_tokens=3, output_tokens=5)``) are
    still accepted, and ``response.input_tokens`` and its siblings still read them.

    Attributes:
        text: The assistant's answer text (never its reasoning).
        model: The model name the server reported.
        tokens: What the response billed, by kind.
        parts: The answer's ordered content when it holds more than text (reasoning with
            its signature, provider-native blocks, media), text parts included; ``()``
            for a plain text answer.
        tool_calls: Tools the model asked for.
        finish_reason: Why the model stopped, normalised.
        provider: The provider that answered.
        cost_usd: The price of this response, when cost tracking knows it.
        tool_messages: The internal turns the tool loop added (assistant tool calls and
            tool results), oldest first. Sessions keep them out of history.
        response_id: The provider's id for this response (``chatcmpl-...``,
            ``msg_...``), when it sent one.
        output: The validated structured answer (an instance of ``output_type``), set
            by the structured-output middleware; ``None`` for a text answer. ``text``
            holds its JSON.
        output_mode: How the structured answer was asked for (``native``, ``tool`` or
            ``prompted``: what ``auto`` chose), when one was.
    """

    model_config = _FROZEN

    text: str = ""
    model: str
    tokens: TokenCounts = TokenCounts()
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = "stop"
    provider: str | None = None
    cost_usd: float | None = None
    tool_messages: tuple[Message, ...] = ()
    response_id: str | None = None
    output: OutputT = None  # type: ignore[assignment]
    output_mode: ResolvedOutputMode | None = None

    @model_validator(mode="before")
    @classmethod
    def _flat_counts(cls, data: Any) -> Any:
        return _fold_counts(data)

    @property
    def reasoning(self) -> str:
        """The reasoning text the provider showed (``""`` if none), parts joined."""
        return "".join(part.text for part in self.parts if isinstance(part, ReasoningPart))

    @property
    def message(self) -> Message:
        """The answer as the assistant turn to send back: parts, text and tool calls."""
        return Message(
            role="assistant", content=self.parts or self.text, tool_calls=self.tool_calls
        )


class StreamChunk(BaseModel, Generic[OutputT]):
    """One piece of a streamed answer.

    A stream is text (and reasoning) chunks, then one final chunk whose ``finish_reason``
    is set and which carries the token counts and the complete tool calls. When the tool
    loop runs inside a stream, it also yields ``tool_call`` and ``tool_result`` chunks
    between the text. Reasoning deltas come as ``reasoning`` chunks, never in ``text``.
    A structured stream (``output_type=``) gives each text chunk the object parsed so
    far in ``partial`` and the final chunk the validated ``output``; when an answer
    fails validation and the model is asked again, an ``output_retry`` chunk comes
    first, and the text and partial objects start again from nothing.

    Attributes:
        kind: ``text``, ``reasoning``, ``tool_call``, ``tool_result`` or
            ``output_retry``.
        text: The text delta (``""`` on other chunks).
        reasoning: On a ``reasoning`` chunk, the reasoning delta.
        finish_reason: Set on the final chunk only.
        model: The model name, on the final chunk.
        tokens: On the final chunk, what the stream billed; ``None`` before it (and on a
            final chunk when the provider reported no usage). ``input_tokens`` and its
            siblings read it, as they did when they were fields; unlike `LLMResponse`,
            a chunk is built with ``tokens=TokenCounts(...)`` only (a before-validator
            for the flat keywords cost 0.3 to 0.6 µs on every chunk).
        parts: On the final chunk, the answer's ordered content when it holds more than
            text (as `LLMResponse.parts`).
        tool_calls: On the final chunk, the complete tool calls the model asked for.
        tool_call: On a ``tool_call`` chunk, the call about to run.
        tool_result: On a ``tool_result`` chunk, what the call returned.
        provider: The provider that answered, on the final chunk.
        cost_usd: The price of the stream, on the final chunk when cost tracking knows it.
        response_id: The provider's id for the response, on the final chunk.
        partial: In a structured stream, on each text chunk, the JSON value parsed so far
            (dicts, lists, strings, numbers: what has arrived, unvalidated, never
            contradicting the final answer); ``None`` before any.
        output: In a structured stream, on the final chunk, the validated answer.
        output_mode: On the final chunk of a structured stream, how the answer was asked
            for (``native``, ``tool`` or ``prompted``).
    """

    model_config = _FROZEN

    kind: StreamChunkKind = "text"
    text: str = ""
    reasoning: str = ""
    finish_reason: FinishReason | None = None
    model: str | None = None
    tokens: TokenCounts | None = None
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call: ToolCall | None = None
    tool_result: ToolResult | None = None
    provider: str | None = None
    cost_usd: float | None = None
    response_id: str | None = None
    partial: Any = None
    output: OutputT = None  # type: ignore[assignment]
    output_mode: ResolvedOutputMode | None = None

    @property
    def is_final(self) -> bool:
        """Whether this is the stream's final chunk."""
        return self.finish_reason is not None

    @property
    def input_tokens(self) -> int | None:
        """On the final chunk, ``tokens.input``; ``None`` before it."""
        return self.tokens.input if self.tokens is not None else None

    @property
    def output_tokens(self) -> int | None:
        """On the final chunk, ``tokens.output``; ``None`` before it."""
        return self.tokens.output if self.tokens is not None else None

    @property
    def cached_input_tokens(self) -> int | None:
        """On the final chunk, ``tokens.cached_input``; ``None`` before it."""
        return self.tokens.cached_input if self.tokens is not None else None

    @property
    def cache_write_tokens(self) -> int | None:
        """On the final chunk, ``tokens.cache_write``; ``None`` before it."""
        return self.tokens.cache_write if self.tokens is not None else None

    @property
    def reasoning_tokens(self) -> int | None:
        """On the final chunk, ``tokens.reasoning``; ``None`` before it."""
        return self.tokens.reasoning if self.tokens is not None else None


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
