"""The Responses API's ``input`` items read back into Aether's messages, for the wire format.

An assistant turn spans several items (reasoning, an assistant message, built-in tool
items, function calls); they are gathered into one `Message` until a user message or a
function-call output ends the turn.
"""

from __future__ import annotations

from typing import Any

from aether.extensions.llm._tool_calls import parse_arguments
from aether.llm.contracts import (
    Content,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCall,
)

__all__ = ["InputDecoder"]


class InputDecoder:
    """Input items back into Aether's messages (an assistant turn spans several items)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.result: list[Message] = []
        self.parts: list[Part] = []
        self.calls: list[ToolCall] = []
        self.names: dict[str, str] = {}

    def messages(self, items: list[dict[str, Any]], system: list[str]) -> tuple[Message, ...]:
        for item in items:
            kind, role = item.get("type", "message"), item.get("role")
            if kind == "message" and role in ("system", "developer"):
                system.append(_text(item["content"]))
            elif kind == "message" and role == "user":
                self._flush()
                self.result.append(Message(role="user", content=_content(item["content"])))
            elif kind == "message" and role == "assistant":
                if self.calls:
                    self._flush()
                self.parts.append(TextPart(text=_text(item["content"])))
            elif kind == "reasoning":
                if self.calls:
                    self._flush()
                self.parts.append(_reasoning(item, self.provider))
            elif kind == "function_call":
                arguments, raw = parse_arguments(item["arguments"])
                call = ToolCall(
                    id=item["call_id"], name=item["name"], arguments=arguments, raw_arguments=raw
                )
                self.names[call.id] = call.name
                self.calls.append(call)
            elif kind == "function_call_output":
                self._flush()
                call_id = item["call_id"]
                output = _content(item["output"])
                self.result.append(
                    Message(
                        role="tool",
                        content=output,
                        tool_call_id=call_id,
                        name=self.names.get(call_id),
                    )
                )
            else:
                self.parts.append(ProviderPart(provider=self.provider, kind=kind, data=item))
        self._flush()
        return tuple(self.result)

    def _flush(self) -> None:
        if not self.parts and not self.calls:
            return
        content: Content = tuple(self.parts)
        if all(isinstance(part, TextPart) for part in self.parts):
            content = "".join(part.text for part in self.parts if isinstance(part, TextPart))
        self.result.append(Message(role="assistant", content=content, tool_calls=tuple(self.calls)))
        self.parts, self.calls = [], []


def _reasoning(item: dict[str, Any], provider: str) -> ReasoningPart:
    summary = "\n\n".join(piece["text"] for piece in item.get("summary", []))
    return ReasoningPart(
        text=summary,
        signature=item.get("encrypted_content"),
        provider=provider,
        id=item["id"],
    )


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    assert isinstance(content, list), f"message content {content!r}"
    return "".join(piece["text"] for piece in content)


def _content(content: object) -> Content:
    """A message's content as Aether's: text, or parts (``data:`` URLs read back to bytes)."""
    if isinstance(content, str):
        return content
    assert isinstance(content, list), f"content {content!r}"
    parts: list[Part] = []
    for item in content:
        kind = item["type"]
        if kind == "input_text":
            parts.append(TextPart(text=item["text"]))
        elif kind == "input_image":
            parts.append(ImagePart(url=item["image_url"], detail=item.get("detail")))
        elif kind == "input_file":
            url = item.get("file_data") or item["file_url"]
            parts.append(DocumentPart(url=url, name=item.get("filename")))
        else:
            raise AssertionError(f"the adapter sent a content item of unknown type {kind!r}")
    return tuple(parts)
