"""Content parts on the Gemini wire, both ways, through google-genai's typed objects.

Out: text parts keep their ``thought_signature``; media with bytes become ``inline_data``
and media at a URL ``file_data`` (images, audio, PDF and text documents, video); Gemini's
own reasoning goes back as ``thought`` parts with their signature, its own other parts
(code execution, say) as they came. A function call carries its ``thought_signature``
from `ToolCall.signature`. A tool result's media go inside its ``function_response``
for Gemini 3 (multimodal function responses), and right after it in the same turn for
earlier models.

In: ``thought`` parts become `ReasoningPart`, text parts `TextPart` (a signature on an
empty text part is kept: Gemini 3 puts one there), ``inline_data`` and ``file_data``
media parts, function calls tool calls, and any other part a `ProviderPart`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._parts import (
    PartsBuilder,
    belongs_to,
    signature_bytes,
    signature_text,
)
from aether.extensions.llm._requests import tool_names_by_call
from aether.extensions.llm._tool_calls import make_tool_call
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    StreamChunk,
    TextPart,
    ToolCall,
)

__all__ = [
    "SYNTHETIC_ID_PREFIX",
    "build_contents",
    "read_parts",
]

SYNTHETIC_ID_PREFIX = "aether-gemini-"

_MEDIA: dict[str, type[ImagePart | AudioPart]] = {"image": ImagePart, "audio": AudioPart}


class _Encoder:
    """Turns one request's messages into ``Content`` objects."""

    __slots__ = ("nested_results", "provider", "types")

    def __init__(self, types: Any, provider: str, model: str) -> None:
        self.types = types
        self.provider = provider
        self.nested_results = model.removeprefix("models/").startswith("gemini-3")

    def signature(self, signature: str | None) -> bytes | None:
        return signature_bytes(signature, provider=self.provider) if signature else None

    def part(self, part: Part, role: str) -> Any:
        """The ``Part`` for one of ours; ``None`` for one that does not go to Gemini."""
        types = self.types
        if isinstance(part, TextPart):
            if not part.text and part.signature is None:
                return None  # the API refuses an empty text part; a signed one is kept
            return types.Part(text=part.text, thought_signature=self.signature(part.signature))
        if isinstance(part, ReasoningPart):
            if role != "assistant" or not belongs_to(part, self.provider):
                return None
            if not part.text and part.signature is None:
                return None
            return types.Part(
                text=part.text, thought=True, thought_signature=self.signature(part.signature)
            )
        if isinstance(part, ProviderPart):
            if role != "assistant" or not belongs_to(part, self.provider):
                return None
            return types.Part.model_validate_json(json.dumps(part.data))
        if part.data is not None:
            return types.Part(inline_data=types.Blob(data=part.data, mime_type=part.media_type))
        assert part.url is not None  # a media part holds bytes or a URL
        return types.Part(file_data=types.FileData(file_uri=part.url, mime_type=part.media_type))

    def call(self, call: ToolCall) -> Any:
        call_id = None if call.id.startswith(SYNTHETIC_ID_PREFIX) else call.id
        function_call = self.types.FunctionCall(name=call.name, args=call.arguments, id=call_id)
        return self.types.Part(
            function_call=function_call, thought_signature=self.signature(call.signature)
        )

    def tool_result(self, message: Message, name: str) -> list[Any]:
        """The ``function_response`` part, and the media that follow it (before Gemini 3)."""
        types = self.types
        call_id = message.tool_call_id or ""
        media: list[Any] = []
        content = message.content
        if not isinstance(content, str):
            media = [
                self.part(part, "tool")
                for part in content
                if isinstance(part, ImagePart | AudioPart | DocumentPart)
            ]
        nested = None
        if media and self.nested_results:
            nested = [_response_part(types, part) for part in media]
            media = []
        response = types.FunctionResponse(
            name=name,
            response={"result": message.text},
            id=None if call_id.startswith(SYNTHETIC_ID_PREFIX) or not call_id else call_id,
            parts=nested,
        )
        return [types.Part(function_response=response), *media]


def _response_part(types: Any, part: Any) -> Any:
    if part.inline_data is not None:
        blob = types.FunctionResponseBlob(
            data=part.inline_data.data, mime_type=part.inline_data.mime_type
        )
        return types.FunctionResponsePart(inline_data=blob)
    file_data = types.FunctionResponseFileData(
        file_uri=part.file_data.file_uri, mime_type=part.file_data.mime_type
    )
    return types.FunctionResponsePart(file_data=file_data)


def build_contents(
    types: Any, messages: tuple[Message, ...], *, provider: str, model: str
) -> list[Any]:
    """The ``contents`` list; consecutive turns of one role share a ``Content``.

    Raises:
        BadRequestError: If a tool turn cannot be named, or a signature is not base64.
    """
    encoder = _Encoder(types, provider, model)
    names = tool_names_by_call(messages)
    contents: list[Any] = []
    for message in messages:
        role = message.role
        if role in ("system", "developer"):
            continue
        if role == "tool":
            call_id = message.tool_call_id or ""
            name = message.name or names.get(call_id)
            if not name:
                raise BadRequestError(
                    f"Gemini needs the tool's name on a tool message (call {call_id!r}): set "
                    f"Message.name, or keep the assistant turn that made the call in the history",
                    provider=provider,
                )
            parts = encoder.tool_result(message, name)
        elif isinstance(message.content, str):
            parts = [types.Part(text=message.content)] if message.content else []
        else:
            parts = [
                converted
                for part in message.content
                if (converted := encoder.part(part, role)) is not None
            ]
        parts += [encoder.call(call) for call in message.tool_calls]
        wire_role = "model" if role == "assistant" else "user"
        if contents and contents[-1].role == wire_role:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=wire_role, parts=parts))
    return contents


def read_parts(
    raw_parts: Any,
    *,
    provider: str,
    builder: PartsBuilder,
    calls: list[ToolCall],
    deltas: list[str | StreamChunk] | None = None,
) -> str:
    """Read one candidate's parts into ``builder`` and ``calls``; return its answer text.

    ``deltas``, when given, receives the text (strings) and reasoning (chunks) in order.

    Raises:
        MalformedResponseError: If a function call has no name, or media do not match
            their media type.
    """
    texts: list[str] = []
    for part in raw_parts or ():
        signature = signature_text(getattr(part, "thought_signature", None))
        text = getattr(part, "text", None)
        if getattr(part, "thought", None):
            text = text if isinstance(text, str) else ""
            builder.delta("reasoning", text, signature)
            if deltas is not None and text:
                deltas.append(StreamChunk(kind="reasoning", reasoning=text))
        elif getattr(part, "function_call", None) is not None:
            builder.close()
            calls.append(_tool_call(part.function_call, signature, provider))
        elif isinstance(text, str):
            texts.append(text)
            builder.delta("text", text, signature)
            if deltas is not None and text:
                deltas.append(text)
        elif part.inline_data is not None or part.file_data is not None:
            builder.add(_media(part, provider))
        elif signature is not None:  # a signature on its own closes the answer
            builder.delta("text", "", signature)
        else:
            builder.add(_provider_part(part, provider))
    return "".join(texts)


def _media(part: Any, provider: str) -> ImagePart | AudioPart | DocumentPart:
    blob = part.inline_data or part.file_data
    media_type = getattr(blob, "mime_type", None) or "application/octet-stream"
    cls = _MEDIA.get(media_type.split("/", 1)[0], DocumentPart)
    try:
        if part.inline_data is not None:
            return cls(data=blob.data or b"", media_type=media_type)
        return cls(url=blob.file_uri, media_type=media_type)
    except ValueError as error:
        raise malformed(provider, f"a media part does not match its type ({error})") from None


def _provider_part(part: Any, provider: str) -> ProviderPart:
    data = part.model_dump(mode="json", exclude_none=True)
    kind = next(iter(data), "part")
    return ProviderPart(provider=provider, kind=kind, data=data)


def _tool_call(function_call: Any, signature: str | None, provider: str) -> ToolCall:
    name = getattr(function_call, "name", None)
    if not isinstance(name, str) or not name:
        # Unlike the other wires, not handed back to the model: a function response must
        # name its function, so the conversation could not continue. Retry asks again.
        raise malformed(provider, "a function_call part has no name")
    call_id = getattr(function_call, "id", None)
    if not isinstance(call_id, str) or not call_id:
        call_id = f"{SYNTHETIC_ID_PREFIX}{uuid.uuid4().hex[:16]}"
    args = getattr(function_call, "args", None)
    return make_tool_call(
        call_id, name, arguments=args if args is not None else {}, signature=signature
    )
