"""Scripted vendor servers: what a mock server answers, and what it saw.

A test describes answers in vendor-neutral terms (`ScriptedReply`, `ScriptedError`,
`MalformedBody`, ...); a `WireFormat` renders them in one vendor's real JSON or SSE and
decodes the requests the adapter sent into a `WireRequest`. `MockServer` ties the two
together as a handler for an HTTP library's ``MockTransport``::

    server = MockServer(OPENAI_WIRE, [ScriptedReply(text=("Hello", "!"))])
    provider = OPENAI_WIRE.build_provider(server)
    response = await provider.complete(request)
    server.requests[0].messages   # what the adapter sent, as Aether messages
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from aether.llm.contracts import FinishReason, Message

__all__ = [
    "BrokenStream",
    "ConnectionFailure",
    "ConnectionReset",
    "Hang",
    "MalformedBody",
    "MockServer",
    "Mode",
    "Script",
    "ScriptedError",
    "ScriptedReasoning",
    "ScriptedReply",
    "ScriptedTimeout",
    "ScriptedToolCall",
    "ScriptedUsage",
    "StalledStream",
    "StreamErrorEvent",
    "TruncatedBody",
    "WireFormat",
    "WireRequest",
    "WireTool",
]

Mode = Literal["complete", "stream"]
"""How a provider is called: ``complete`` (one JSON body) or ``stream`` (SSE)."""


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    """A tool call the server makes; ``arguments`` are the text fragments it streams.

    ``signature`` is the opaque signature a wire that has one attaches to the call
    (Gemini's ``thoughtSignature``, base64 text); other wires leave it out.
    """

    id: str
    name: str
    arguments: tuple[str, ...] = ("{}",)
    signature: str | None = None

    @property
    def argument_text(self) -> str:
        """The fragments joined: the whole argument text."""
        return "".join(self.arguments)


@dataclass(frozen=True, slots=True)
class ScriptedUsage:
    """Token counts in Aether's convention (input includes cached and cache writes)."""

    input_tokens: int = 12
    output_tokens: int = 7
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    input_audio_tokens: int = 0
    input_image_tokens: int = 0
    output_audio_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ScriptedReasoning:
    """Reasoning the server sends before its answer: the deltas, and its signature.

    Each wire renders it its own way: an Anthropic ``thinking`` block (``redacted_thinking``
    when ``redacted``, its ``data`` being the signature), Gemini ``thought`` parts with the
    ``thoughtSignature`` on the last, OpenAI-compatible ``reasoning_content`` (no
    signature there).
    """

    text: tuple[str, ...] = ()
    signature: str | None = None
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """A successful answer: reasoning, text deltas, tool calls, why it stopped, usage, model.

    ``refusal`` is a model's refusal, as deltas: OpenAI sends it in the message's
    ``refusal`` field (no content); the other wires, which have no such field, send it
    as text with their content-filter stop (`refused`).
    """

    text: tuple[str, ...] = ()
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    model: str = "scripted-model-001"
    usage: ScriptedUsage = field(default_factory=ScriptedUsage)
    reasoning: tuple[ScriptedReasoning, ...] = ()
    refusal: tuple[str, ...] = ()


def refused(reply: ScriptedReply) -> ScriptedReply:
    """A refusal as a wire without a refusal field sends it: text, content-filter stop."""
    if not reply.refusal:
        return reply
    return replace(reply, text=reply.refusal, finish_reason="content_filter", refusal=())


@dataclass(frozen=True, slots=True)
class ScriptedError:
    """An HTTP error status with the vendor's error body and the given headers.

    ``code`` and ``param`` fill the error body's fields of those names where the wire
    has them (OpenAI's ``unsupported_value`` for ``temperature``, say); by default the
    wire's usual code for the status, and no param.
    """

    status: int
    message: str = "scripted failure"
    headers: Mapping[str, str] = field(default_factory=dict)
    code: str | None = None
    param: str | None = None


@dataclass(frozen=True, slots=True)
class MalformedBody:
    """A 200 answer Aether cannot read: an unexpected JSON shape, or broken SSE."""

    body: bytes = b'{"unexpected": "shape"}'


@dataclass(frozen=True, slots=True)
class BrokenStream:
    """A stream that sends ``text`` and then ends without its final event."""

    text: tuple[str, ...] = ("partial ",)


@dataclass(frozen=True, slots=True)
class StreamErrorEvent:
    """A 200 stream that sends ``text`` and then the vendor's error event."""

    text: tuple[str, ...] = ()
    message: str = "the server is overloaded"


@dataclass(frozen=True, slots=True)
class StalledStream:
    """A stream that sends ``text`` and then waits forever (for cancellation tests)."""

    text: tuple[str, ...] = ("first ",)


@dataclass(frozen=True, slots=True)
class Hang:
    """The server goes quiet, and only the client's read timeout ends the request.

    In ``complete`` mode, and in ``stream`` mode without ``text``, no answer comes at
    all; in ``stream`` mode the ``text`` events arrive first. As a real HTTP transport
    does, the server waits for the read timeout the request carries and then raises the
    HTTP library's ``ReadTimeout``; a request without one waits forever.
    """

    text: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """The connection is reset mid-answer (the HTTP library's ``ReadError``).

    A stream sends its headers and the ``text`` events first; a call gets its headers
    and the first half of a JSON body answering ``text``.
    """

    text: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TruncatedBody:
    """The answer stops mid-event and the body ends cleanly: a cut, not a reset.

    A stream sends the ``text`` events, then the first half of the event that should
    follow them; a call gets the first half of a JSON body answering ``text``.
    """

    text: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionFailure:
    """The connection fails before any answer."""


@dataclass(frozen=True, slots=True)
class ScriptedTimeout:
    """The read times out before any answer."""


Script = (
    ScriptedReply
    | ScriptedError
    | MalformedBody
    | BrokenStream
    | StreamErrorEvent
    | StalledStream
    | ConnectionFailure
    | ScriptedTimeout
    | Hang
    | ConnectionReset
    | TruncatedBody
)


@dataclass(frozen=True, slots=True)
class WireTool:
    """A tool definition as a request carried it."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A request an adapter sent, decoded back into Aether's terms.

    ``messages`` excludes system messages (their text is ``system``); a field the vendor
    request did not carry is ``None``. ``body`` is the raw JSON for vendor-specific checks.
    """

    path: str
    stream: bool
    model: str
    system: str | None
    messages: tuple[Message, ...]
    tools: tuple[WireTool, ...]
    tool_choice: str | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: tuple[str, ...] | None
    body: dict[str, Any]
    headers: dict[str, str]


class WireFormat(Protocol):
    """One vendor's wire format, for `MockServer` and the shared provider suite.

    Attributes:
        name: The provider's name (its key in ``provider_options``).
        api_key: The key the provider is built with, so tests can check it never leaks.
        escape_hatch: ``(options, dotted path in the body, expected value)``: an example
            of ``provider_options[name]`` and where it must land in the request body.
    """

    name: str
    api_key: str
    escape_hatch: tuple[dict[str, Any], str, Any]

    def build_provider(self, handler: Callable[[Any], Any], **options: Any) -> Any:
        """A provider whose HTTP requests go to ``handler`` (via a mock transport)."""
        ...

    def render(self, item: Script, *, stream: bool, server: MockServer) -> Any:
        """The HTTP response serving ``item``, or raise the HTTP library's error."""
        ...

    def decode(self, request: Any) -> WireRequest:
        """What ``request`` (an HTTP request) asked for, in Aether's terms."""
        ...

    def supports(self, feature: str, mode: Mode) -> bool:
        """Whether the wire can express ``feature`` in ``mode`` (see the suite)."""
        ...


class MockServer:
    """Serves scripted items in a wire format, one per request, and records requests.

    Call it with an HTTP request (it is a ``MockTransport`` handler). When the script is
    used up it answers 500 with a message saying so. ``open_streams`` counts streamed
    bodies not yet closed, so a test can check that a stream was released;
    ``held_requests`` counts requests the server is holding without an answer (a
    `Hang`); ``transport_closed`` says whether the provider closed the client it built.

    Streamed bodies arrive in two pieces per event, so decoders must reassemble events
    that straddle reads; set ``split_body`` to a function that cuts the whole body into
    the pieces to deliver instead (property-based tests choose the cuts).
    """

    def __init__(self, wire: WireFormat, script: Iterable[Script] = ()) -> None:
        self.wire = wire
        self.script: deque[Script] = deque(script)
        self.requests: list[WireRequest] = []
        self.http_request: Any = None
        """The HTTP request being answered (the last one, once answered)."""
        self.open_streams = 0
        self.closed_streams = 0
        self.held_requests = 0
        self.transport_closed = False
        self.split_body: Callable[[bytes], list[bytes]] | None = None

    def add(self, *items: Script) -> None:
        """Append items to the script."""
        self.script.extend(items)

    def __call__(self, request: Any) -> Any:
        decoded = self.wire.decode(request)
        self.requests.append(decoded)
        self.http_request = request
        if not self.script:
            item: Script = ScriptedError(
                500, f"MockServer's script is used up (request {len(self.requests)})"
            )
        else:
            item = self.script.popleft()
        return self.wire.render(item, stream=decoded.stream, server=self)

    @property
    def last(self) -> WireRequest:
        """The most recent request."""
        return self.requests[-1]
