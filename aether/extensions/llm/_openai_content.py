"""Content parts on the OpenAI chat-completions wire, both ways.

Out: a user turn's parts become content parts (``text``, ``image_url`` with a URL or a
``data:`` URL, ``input_audio`` for WAV and MP3 bytes, ``file`` with ``file_data`` for
PDF bytes; a text document is sent as its text). System, developer, assistant and tool
turns carry text only, as the wire allows. A tool result's media cannot go in a ``tool``
message: the tool message says so in its text, and the media follow in one ``user``
message after the tool messages of that turn. Reasoning goes back only to compatible
servers, as ``reasoning_content`` on the assistant turns that called tools (DeepSeek
requires it there); OpenAI's own chat completions have no field for it.

In: ``reasoning_content`` (DeepSeek, vLLM, llama.cpp) or ``reasoning`` (OpenRouter, vLLM,
Groq, Ollama) become a `ReasoningPart` before the answer's text.
"""

from __future__ import annotations

from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._json_body import Base64Text
from aether.extensions.llm._parts import belongs_to, text_of_document, unsupported
from aether.extensions.llm._tool_calls import arguments_json
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCall,
)

__all__ = ["messages_json", "reasoning_of"]

_AUDIO_FORMATS = {"audio/wav": "wav", "audio/mpeg": "mp3"}

_TOOL_MEDIA_NOTE = "[attachments: {count}, in the next user message]"
"""Where a tool message says its media went (a tool message carries text only)."""


class _Options:
    """What shapes the messages: the wire's names and what the server accepts."""

    __slots__ = ("developer_role", "official", "provider")

    def __init__(self, provider: str, developer_role: str, official: bool) -> None:
        self.provider = provider
        self.developer_role = developer_role
        self.official = official


def messages_json(
    messages: tuple[Message, ...], *, provider: str, developer_role: str, official: bool
) -> list[dict[str, Any]]:
    """The ``messages`` array for ``messages``.

    Raises:
        BadRequestError: If a part cannot go on this wire, or a tool turn has no id.
    """
    options = _Options(provider, developer_role, official)
    result: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []  # media from tool results, for the user turn after them
    for message in messages:
        if message.role == "tool":
            result.append(_tool_json(message, options, held))
            continue
        if held:
            result.append({"role": "user", "content": held})
            held = []
        result.append(_message_json(message, options))
    if held:
        result.append({"role": "user", "content": held})
    return result


def _message_json(message: Message, options: _Options) -> dict[str, Any]:
    role: str = message.role
    if role == "developer":
        role = options.developer_role
    content: Any = message.content
    reasoning = None
    if not isinstance(content, str):
        if message.role == "user":
            content = _user_content(content, options)
        else:
            content, reasoning = _text_content(content, message.role, options)
    if message.role == "assistant" and message.tool_calls:
        turn: dict[str, Any] = {
            "role": "assistant",
            "content": content or None,
            "tool_calls": [_tool_call_json(call) for call in message.tool_calls],
        }
        if reasoning and not options.official:
            turn["reasoning_content"] = reasoning
        return turn
    return {"role": role, "content": content}


def _tool_call_json(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments_json(call)},
    }


def _tool_json(message: Message, options: _Options, held: list[dict[str, Any]]) -> dict[str, Any]:
    if not message.tool_call_id:
        raise BadRequestError(
            "a tool message needs tool_call_id (the id of the call it answers)",
            provider=options.provider,
        )
    content = message.content
    if not isinstance(content, str):
        texts: list[str] = []
        media: list[dict[str, Any]] = []
        for part in content:
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, DocumentPart) and _is_text(part):
                texts.append(_document_text(part, options))
            elif isinstance(part, ImagePart | AudioPart | DocumentPart):
                media.append(_media_json(part, options, role="tool"))
        content = "".join(texts)
        if media:
            note = _TOOL_MEDIA_NOTE.format(count=len(media))
            content = f"{content}\n\n{note}" if content else note
            name = f" ({message.name})" if message.name else ""
            label = f"Attachments of the tool result for call {message.tool_call_id}{name}:"
            held.append({"type": "text", "text": label})
            held.extend(media)
    return {"role": "tool", "tool_call_id": message.tool_call_id, "content": content}


def _text_content(
    content: tuple[Part, ...], role: str, options: _Options
) -> tuple[str, str | None]:
    """A non-user turn's text, and its own reasoning text (assistant turns)."""
    texts: list[str] = []
    reasoning: list[str] = []
    for part in content:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ReasoningPart):
            if belongs_to(part, options.provider) and part.text:
                reasoning.append(part.text)
        elif isinstance(part, DocumentPart) and role != "assistant" and _is_text(part):
            texts.append(_document_text(part, options))
        elif not isinstance(part, ProviderPart):
            raise unsupported(
                options.provider,
                part,
                role=role,
                fix=f"chat completions carry only text in {role} turns; put media in a user turn",
            )
    return "".join(texts), "".join(reasoning) or None


def _user_content(content: tuple[Part, ...], options: _Options) -> str | list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    only_text = True
    for part in content:
        if isinstance(part, TextPart):
            items.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart | AudioPart | DocumentPart):
            item = _media_json(part, options, role="user")
            only_text = only_text and item["type"] == "text"
            items.append(item)
        # Reasoning and provider-native parts in a user turn have no meaning to send.
    if only_text:
        return "".join(item["text"] for item in items)
    return items


def _media_json(
    part: ImagePart | AudioPart | DocumentPart, options: _Options, *, role: str
) -> dict[str, Any]:
    provider = options.provider
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url if part.url is not None else _data_url(part)}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, AudioPart):
        audio_format = _AUDIO_FORMATS.get(part.media_type or "")
        if part.data is None or audio_format is None:
            raise unsupported(
                provider,
                part,
                role=role,
                fix="chat completions take audio as WAV or MP3 bytes (input_audio); "
                "download or convert it first",
            )
        return {
            "type": "input_audio",
            "input_audio": {"data": Base64Text(part.data), "format": audio_format},
        }
    if _is_text(part):
        return {"type": "text", "text": _document_text(part, options)}
    if part.media_type == "application/pdf" and part.data is not None:
        return {
            "type": "file",
            "file": {"filename": part.name or "document.pdf", "file_data": _data_url(part)},
        }
    raise unsupported(
        provider,
        part,
        role=role,
        fix="chat completions take documents as PDF bytes (or text documents as text); "
        "download a URL first, and send video to gemini",
    )


def _is_text(part: DocumentPart) -> bool:
    return (part.media_type or "").startswith("text/")


def _document_text(part: DocumentPart, options: _Options) -> str:
    if part.data is None:
        raise unsupported(
            options.provider,
            part,
            role="user",
            fix="chat completions cannot fetch a document's URL; download it and give its bytes",
        )
    return text_of_document(part.data, provider=options.provider, name=part.name)


def _data_url(part: ImagePart | DocumentPart) -> Base64Text:
    assert part.data is not None  # the caller sends a URL part's URL instead
    return Base64Text(part.data, f"data:{part.media_type};base64,")


def reasoning_of(message: dict[str, Any]) -> str:
    """The reasoning text a compatible server put on a message or delta (``""``: none)."""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return reasoning if isinstance(reasoning, str) else ""
