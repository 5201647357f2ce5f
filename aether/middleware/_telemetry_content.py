"""Opt-in content capture for telemetry: messages in the GenAI conventions' JSON shape.

``gen_ai.input.messages`` and ``gen_ai.output.messages`` are lists of
``{"role": ..., "parts": [...]}``; a part is ``{"type": "text", "content": ...}``,
``{"type": "tool_call", "id", "name", "arguments"}``, ``{"type": "tool_call_response",
"id", "response"}`` or ``{"type": "reasoning", "content"}``. Spans carry them as JSON
strings (the conventions allow that where attributes cannot be structured, as in
Python). Media parts are written by reference, never their bytes: a URL as
``{"type": "uri", "modality", "mime_type", "uri"}`` (without its query, which can hold a
signature), inline data as ``{"type": "image" | "audio" | "document", "modality",
"mime_type", "size"}``; a provider-native part as ``{"type": <its kind>}``. Reasoning
signatures are never written.

Everything written passes through `Redactor`: API keys found in the environment
(variables named like ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``) are replaced wherever
they appear, and so are keys in the common vendors' formats, so a key pasted into a
prompt or returned by a tool does not reach the tracing backend.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from aether.llm.contracts import LLMRequest, Message, Tool, ToolCall

__all__ = [
    "Redactor",
    "arguments_json",
    "input_messages",
    "output_messages",
    "result_text",
    "tool_definitions",
]

REDACTED = "[REDACTED]"

_KEY_FORMATS = re.compile(
    r"\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic (sk-ant-...) and many compatible APIs
    r"|\bAIza[0-9A-Za-z_-]{30,}"  # Google
    r"|\b(?:gsk|xai|hf)[_-][A-Za-z0-9]{20,}"  # Groq, xAI, Hugging Face
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
)
_SECRET_VARIABLE = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD)$")


class Redactor:
    """Replaces API keys in text: the environment's secret values and known key formats.

    Args:
        secrets: Exact values to replace, besides the environment's.
        environ: The environment to read secret-named variables from.
    """

    __slots__ = ("_secrets",)

    def __init__(
        self, secrets: Iterable[str] = (), *, environ: Mapping[str, str] | None = None
    ) -> None:
        values = environ if environ is not None else os.environ
        found = {value for name, value in values.items() if _SECRET_VARIABLE.search(name)}
        found.update(secrets)
        # Longest first, so a key that contains another is replaced whole.
        self._secrets = sorted((value for value in found if len(value) >= 8), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _KEY_FORMATS.sub(REDACTED, text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


def _call_part(call: ToolCall) -> dict[str, Any]:
    arguments: Any = call.arguments if call.raw_arguments is None else call.raw_arguments
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}


def _part(part: object) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "content": part}
    kind = getattr(part, "type", None)
    if kind == "text":
        return {"type": "text", "content": getattr(part, "text", "")}
    if kind == "reasoning":
        return {"type": "reasoning", "content": getattr(part, "text", "")}
    if kind in ("image", "audio", "document"):
        media_type = getattr(part, "media_type", None)
        url = getattr(part, "url", None)
        if isinstance(url, str):
            # A signed URL's query can be a credential: keep the resource, not the query.
            bare = urlsplit(url)._replace(query="", fragment="").geturl()
            return {"type": "uri", "modality": kind, "mime_type": media_type, "uri": bare}
        data = getattr(part, "data", None)
        size = len(data) if isinstance(data, bytes) else 0
        return {"type": kind, "modality": kind, "mime_type": media_type, "size": size}
    return {"type": str(getattr(part, "kind", None) or kind or "unknown")}


def _content_parts(content: object) -> list[dict[str, Any]]:
    """Text as one text part; a tuple of parts part by part (media by reference or size)."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    return [_part(part) for part in content] if isinstance(content, Sequence) else []


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        parts: list[dict[str, Any]] = [
            {"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}
        ]
    else:
        parts = [*_content_parts(message.content), *map(_call_part, message.tool_calls)]
    described: dict[str, Any] = {"role": message.role, "parts": parts}
    if message.name is not None and message.role != "tool":
        described["name"] = message.name
    return described


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def input_messages(request: LLMRequest) -> str:
    """``gen_ai.input.messages``: the conversation sent, in order (system message included)."""
    return _json([_message(message) for message in request.messages])


def output_messages(
    content: str | Sequence[object], tool_calls: Sequence[ToolCall], finish_reason: str | None
) -> str:
    """``gen_ai.output.messages``: the one answer (choice) the model gave."""
    parts = [*_content_parts(content), *map(_call_part, tool_calls)]
    return _json([{"role": "assistant", "parts": parts, "finish_reason": finish_reason or ""}])


def tool_definitions(tools: Sequence[Tool]) -> str:
    """``gen_ai.tool.definitions``: the tools offered, as the model sees them."""
    return _json(
        [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            }
            for tool in tools
        ]
    )


def result_text(content: str | Sequence[object]) -> str:
    """``gen_ai.tool.call.result``: a tool's text, or its content parts as JSON."""
    return content if isinstance(content, str) else _json(_content_parts(content))


def arguments_json(call: ToolCall) -> str:
    """``gen_ai.tool.call.arguments``: the arguments as the model sent them."""
    return call.raw_arguments if call.raw_arguments is not None else _json(call.arguments)
