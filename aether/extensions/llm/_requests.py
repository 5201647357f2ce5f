"""Small pieces every adapter needs when it turns an `LLMRequest` into a vendor call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._parts import unsupported
from aether.llm.contracts import AudioPart, DocumentPart, ImagePart, LLMRequest, Message

__all__ = ["merge_options", "system_text", "tool_names_by_call", "vendor_options"]


def vendor_options(request: LLMRequest, provider: str) -> dict[str, Any]:
    """A copy of ``request.provider_options[provider]`` (empty when absent).

    Raises:
        BadRequestError: If the entry is not a dict.
    """
    options = request.provider_options.get(provider)
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise BadRequestError(
            f"provider_options[{provider!r}] must be a dict of {provider} parameters, not "
            f"{type(options).__name__}",
            provider=provider,
        )
    return dict(options)


def merge_options(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``overrides``; nested dicts merge key by key.

    So ``{"stream_options": {"include_obfuscation": False}}`` keeps Aether's
    ``include_usage`` while adding a key, and a scalar replaces what Aether set.
    """
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_options(current, value)
        else:
            merged[key] = value
    return merged


def system_text(messages: Iterable[Message], provider: str) -> str | None:
    """Every system and developer message's text, joined by blank lines (``None`` if
    there is none): what a wire with one instruction parameter sends.

    Raises:
        BadRequestError: If an instruction message holds media.
    """
    texts = []
    for message in messages:
        if message.role not in ("system", "developer"):
            continue
        if not isinstance(message.content, str):
            for part in message.content:
                if isinstance(part, ImagePart | AudioPart | DocumentPart):
                    raise unsupported(
                        provider, part, role=message.role, fix="put media in a user turn"
                    )
        texts.append(message.text)
    return "\n\n".join(texts) if texts else None


def tool_names_by_call(messages: Iterable[Message]) -> dict[str, str]:
    """Call id → tool name, from the assistant turns' tool calls."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.tool_calls:
            names[call.id] = call.name
    return names
