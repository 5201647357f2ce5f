"""Aether's conversation as the Responses API's ``input`` items.

- System and developer turns become ``instructions`` (sent on every request: the API
  never carries instructions over from a previous response).
- A user turn is a message; its parts are ``input_text``, ``input_image`` (a URL or a
  ``data:`` URL) and ``input_file`` (bytes as ``file_data``, or a ``file_url``); a text
  document goes as its text. Audio and video have no place on this wire: they fail
  before anything is sent.
- An assistant turn is, in order: its reasoning items (``type: reasoning`` with the
  ``encrypted_content`` its `ReasoningPart` carries as ``signature``), its text as an
  assistant message, the built-in tool items its `ProviderPart` s hold (verbatim), then a
  ``function_call`` item per tool call. Reasoning and provider parts go back only to the
  adapter they came from; reasoning with neither encrypted content nor a stored id to
  refer to is left out (the server could not read it).
- A tool turn is a ``function_call_output``: its text, or a list of ``input_text``,
  ``input_image`` and ``input_file`` items when the tool returned media.

In the ``chained`` state the request sends only the turns after the last answer that
carries its response id (`ANCHOR_KIND`), with ``previous_response_id``: the server
holds everything before it.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._json_body import Base64Text
from aether.extensions.llm._parts import belongs_to, text_of_document, unsupported
from aether.extensions.llm._requests import system_text
from aether.extensions.llm._responses_output import ANCHOR_KIND
from aether.extensions.llm._tool_calls import arguments_json
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    ProviderPart,
    ReasoningPart,
    TextPart,
)

__all__ = ["Conversation", "conversation", "media_item"]

_SERVER_ONLY = ("created_by",)
"""Fields of an output item that an input item must not carry."""


@dataclass(slots=True)
class Conversation:
    """A request's ``instructions``, ``input`` items and ``previous_response_id``."""

    instructions: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    previous_response_id: str | None = None


def _anchor_id(message: Message, provider: str) -> str | None:
    for part in message.parts if message.role == "assistant" else ():
        if (
            isinstance(part, ProviderPart)
            and belongs_to(part, provider)
            and part.kind == ANCHOR_KIND
        ):
            anchor = part.data.get("id")
            if isinstance(anchor, str) and anchor:
                return anchor
    return None


def conversation(messages: tuple[Message, ...], *, provider: str, chained: bool) -> Conversation:
    """The request's instructions and input items for ``messages``.

    Raises:
        BadRequestError: If a part cannot go on this wire, or a tool turn has no id.
    """
    result = Conversation(instructions=system_text(messages, provider))
    start = 0
    if chained:
        for index in range(len(messages) - 1, -1, -1):
            anchor = _anchor_id(messages[index], provider)
            if anchor is not None:
                result.previous_response_id = anchor
                start = index + 1
                break
    store = chained
    for message in messages[start:]:
        if message.role == "user":
            result.items.append(_user_item(message, provider))
        elif message.role == "assistant":
            result.items.extend(_assistant_items(message, provider, store=store))
        elif message.role == "tool":
            result.items.append(_tool_output(message, provider))
    return result


def _user_item(message: Message, provider: str) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": "user", "content": message.content}
    content: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "input_text", "text": part.text})
        elif isinstance(part, ImagePart | AudioPart | DocumentPart):
            content.append(media_item(part, provider, role="user"))
        # Reasoning and provider-native parts in a user turn have no meaning to send.
    return {"role": "user", "content": content}


def _assistant_items(message: Message, provider: str, *, store: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    texts: list[str] = []

    def flush_text() -> None:
        text = "".join(texts)
        if text:
            items.append({"role": "assistant", "content": text})
        texts.clear()

    content = message.content
    if isinstance(content, str):
        texts.append(content)
        content = ()
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                texts.append(part.text)
        elif isinstance(part, ReasoningPart):
            if belongs_to(part, provider) and (item := _reasoning_item(part, store=store)):
                flush_text()
                items.append(item)
        elif isinstance(part, ProviderPart):
            if belongs_to(part, provider) and part.kind != ANCHOR_KIND:
                flush_text()
                items.append({k: v for k, v in part.data.items() if k not in _SERVER_ONLY})
        else:
            raise unsupported(provider, part, role="assistant", fix="put media in a user turn")
    flush_text()
    for call in message.tool_calls:
        items.append(
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": arguments_json(call),
            }
        )
    # Reasoning must be followed by the item it led to (OpenAI answers 400 otherwise):
    # reasoning cut off before any answer (max_output_tokens) is left out.
    while items and items[-1].get("type") == "reasoning":
        items.pop()
    return items


def _reasoning_item(part: ReasoningPart, *, store: bool) -> dict[str, Any] | None:
    """The reasoning item to send back, or ``None`` when the server could not read it.

    Encrypted content goes back as it came, under the id it came with. Without it, only
    a stored response's item can be named by its id: with ``store=false`` the server
    answers 404 for an id it never kept.
    """
    if part.id is None or (part.signature is None and not store):
        return None
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": part.id,
        "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
    }
    if part.signature is not None:
        item["encrypted_content"] = part.signature
    return item


def _tool_output(message: Message, provider: str) -> dict[str, Any]:
    if not message.tool_call_id:
        raise BadRequestError(
            "a tool message needs tool_call_id (the id of the call it answers)",
            provider=provider,
        )
    content = message.content
    output: str | list[dict[str, Any]]
    if isinstance(content, str):
        output = content
    else:
        output = []
        for part in content:
            if isinstance(part, TextPart):
                output.append({"type": "input_text", "text": part.text})
            elif isinstance(part, ImagePart | AudioPart | DocumentPart):
                output.append(media_item(part, provider, role="tool"))
    return {"type": "function_call_output", "call_id": message.tool_call_id, "output": output}


def media_item(
    part: ImagePart | AudioPart | DocumentPart, provider: str, *, role: str
) -> dict[str, Any]:
    """The input content item for a media part (user turns and tool results alike).

    Raises:
        BadRequestError: For audio and video, which the Responses API does not take.
    """
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {
            "type": "input_image",
            "image_url": part.url if part.url is not None else _data_url(part),
        }
        if part.detail is not None:
            image["detail"] = part.detail
        return image
    if isinstance(part, AudioPart):
        raise unsupported(
            provider,
            part,
            role=role,
            fix="the Responses API takes no audio input; send it through the openai "
            "provider (chat completions, WAV or MP3) or transcribe it first",
        )
    media_type = part.media_type or ""
    if media_type.startswith("video/"):
        raise unsupported(provider, part, role=role, fix="send video to gemini")
    if media_type.startswith("text/") and part.data is not None:
        return {
            "type": "input_text",
            "text": text_of_document(part.data, provider=provider, name=part.name),
        }
    item: dict[str, Any]
    if part.url is not None:
        item = {"type": "input_file", "file_url": part.url}
    else:
        item = {"type": "input_file", "file_data": _data_url(part)}
    if part.name or part.url is None:
        item["filename"] = part.name or "document" + (mimetypes.guess_extension(media_type) or "")
    return item


def _data_url(part: ImagePart | DocumentPart) -> Base64Text:
    assert part.data is not None  # the caller sends a URL part's URL instead
    return Base64Text(part.data, f"data:{part.media_type};base64,")
