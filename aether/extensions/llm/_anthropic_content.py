"""Content parts on the Anthropic Messages wire, both ways.

Out: text, ``image`` blocks (base64 for JPEG, PNG, GIF and WebP bytes, or a URL) and
``document`` blocks (PDF as base64 or a URL, text documents as a ``text`` source) in user
turns and in tool results; Anthropic's own reasoning goes back as ``thinking`` (with its
signature) or ``redacted_thinking`` blocks, and its own provider-native blocks
(``server_tool_use``, ``web_search_tool_result``...) as they came. Audio and video fail
before sending: the Messages API takes neither.

In: ``text`` blocks become `TextPart`, ``thinking`` and ``redacted_thinking`` blocks
`ReasoningPart` (signature kept), ``tool_use`` blocks tool calls, and every other block
a `ProviderPart`, in the order they came.
"""

from __future__ import annotations

from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._json_body import Base64Text
from aether.extensions.llm._parts import belongs_to, text_of_document, unsupported
from aether.extensions.llm._tool_calls import make_tool_call, text_of
from aether.llm.contracts import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCall,
)

__all__ = ["provider_part", "read_blocks", "turn_blocks"]

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def turn_blocks(message: Message, provider: str) -> tuple[str, list[dict[str, Any]]]:
    """The role and content blocks ``message`` becomes (a tool turn: a user turn).

    Raises:
        BadRequestError: If a part cannot go on this wire, or a tool turn has no id.
    """
    if message.role == "tool":
        return "user", [_tool_result(message, provider)]
    content = message.content
    blocks: list[dict[str, Any]]
    if isinstance(content, str):
        blocks = [{"type": "text", "text": content}] if content or not message.tool_calls else []
    else:
        blocks = [
            block for part in content if (block := _block(part, message.role, provider)) is not None
        ]
        if not blocks and not message.tool_calls:
            blocks.append({"type": "text", "text": ""})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return message.role, blocks


def _tool_result(message: Message, provider: str) -> dict[str, Any]:
    if not message.tool_call_id:
        raise BadRequestError(
            "a tool message needs tool_call_id (the id of the tool_use it answers)",
            provider=provider,
        )
    content: Any = message.content
    if not isinstance(content, str):
        content = [
            block for part in content if (block := _block(part, "tool", provider)) is not None
        ]
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}


def _block(part: Part, role: str, provider: str) -> dict[str, Any] | None:
    """The block for one part; ``None`` for a part that does not go to this provider."""
    if isinstance(part, TextPart):
        # The API refuses empty text blocks; an empty part carries nothing.
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ReasoningPart):
        if role != "assistant" or not belongs_to(part, provider) or part.signature is None:
            return None  # another provider's, or unsigned: the API would refuse it
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.signature}
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if isinstance(part, ProviderPart):
        if role != "assistant" or not belongs_to(part, provider):
            return None
        return {"type": part.kind, **part.data}
    if role == "assistant":
        raise unsupported(
            provider, part, role=role, fix="Claude takes media in user turns and tool results"
        )
    if isinstance(part, ImagePart):
        return _image(part, role, provider)
    if isinstance(part, DocumentPart):
        return _document(part, role, provider)
    raise unsupported(
        provider,
        part,
        role=role,
        fix="the Messages API takes no audio; transcribe it first, or use openai or gemini",
    )


def _image(part: ImagePart, role: str, provider: str) -> dict[str, Any]:
    if part.url is not None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    if part.media_type not in _IMAGE_TYPES:
        raise unsupported(
            provider, part, role=role, fix="Claude reads JPEG, PNG, GIF and WebP images; convert it"
        )
    assert part.data is not None  # a URL part was sent above
    source = {"type": "base64", "media_type": part.media_type, "data": Base64Text(part.data)}
    return {"type": "image", "source": source}


def _document(part: DocumentPart, role: str, provider: str) -> dict[str, Any]:
    media_type = part.media_type
    source: dict[str, Any]
    if media_type == "application/pdf" or (media_type is None and part.url is not None):
        if part.url is not None:
            source = {"type": "url", "url": part.url}
        else:
            assert part.data is not None  # a media part holds bytes or a URL
            source = {
                "type": "base64",
                "media_type": "application/pdf",
                "data": Base64Text(part.data),
            }
    elif media_type is not None and media_type.startswith("text/") and part.data is not None:
        text = text_of_document(part.data, provider=provider, name=part.name)
        source = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        raise unsupported(
            provider,
            part,
            role=role,
            fix="Claude reads PDF documents (bytes or a URL) and text documents (bytes); "
            "send video to gemini",
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.name:
        block["title"] = part.name
    return block


def read_blocks(blocks: list[Any], *, provider: str) -> tuple[str, list[Part], list[ToolCall]]:
    """The text, the ordered parts and the tool calls of a message's content blocks.

    Raises:
        MalformedResponseError: If a block is not an object.
    """
    texts: list[str] = []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise malformed(provider, "a content block is not an object")
        kind = block.get("type")
        if kind == "text":
            text = text_of(block.get("text"))
            texts.append(text)
            parts.append(TextPart(text=text))
        elif kind == "thinking":
            parts.append(
                ReasoningPart(
                    text=text_of(block.get("thinking")),
                    signature=text_of(block.get("signature")) or None,
                    provider=provider,
                )
            )
        elif kind == "redacted_thinking":
            data = text_of(block.get("data")) or None
            parts.append(ReasoningPart(signature=data, redacted=True, provider=provider))
        elif kind == "tool_use":
            # A nameless call goes back to the model through the tool loop, as in streams.
            call_id = text_of(block.get("id")) or f"toolu_{len(calls)}"
            calls.append(
                make_tool_call(call_id, text_of(block.get("name")), arguments=block.get("input"))
            )
        elif isinstance(kind, str):
            parts.append(provider_part(block, provider))
    return "".join(texts), parts, calls


def provider_part(block: dict[str, Any], provider: str) -> ProviderPart:
    """A provider-native block (a server tool's call or result) as a `ProviderPart`."""
    return ProviderPart(provider=provider, kind=str(block["type"]), data=dict(block))
