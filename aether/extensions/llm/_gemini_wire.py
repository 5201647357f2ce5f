"""The Gemini wire format, through google-genai's typed objects.

System and developer messages become ``system_instruction``; an assistant turn is a
``model`` turn whose tool calls are ``function_call`` parts; a ``tool`` turn is a
``function_response`` part, which needs the tool's name (`Message.name`, else looked up
from the call it answers). Gemini often sends calls without an id: Aether then makes one
up (prefixed ``aether-gemini-``) and leaves it out when the history goes back. Content
parts both ways are in `_gemini_content`, reasoning options in `_gemini_reasoning`.

Gemini 2.5+ attaches a ``thought_signature`` to function calls (and Gemini 3 to text),
and requires it back with them: it travels in the conversation, on `ToolCall.signature`
and `TextPart.signature` (base64 text), so a conversation resumed in another process
keeps it.
"""

from __future__ import annotations

from typing import Any

from aether.errors import ContentFilterError
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._gemini_content import (
    SYNTHETIC_ID_PREFIX,
    build_contents,
    read_parts,
)
from aether.extensions.llm._gemini_reasoning import thinking_config
from aether.extensions.llm._parts import PartsBuilder
from aether.extensions.llm._requests import system_text
from aether.llm.contracts import FinishReason, LLMRequest, StreamChunk, TokenCounts, ToolCall

__all__ = [
    "SYNTHETIC_ID_PREFIX",
    "build_config",
    "build_contents",
    "finish_reason",
    "read_candidate",
    "usage_tokens",
]

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **{
        reason: "content_filter"
        for reason in (
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
            "MODEL_ARMOR",
            "ESCALATION",
        )
    },
}


def _tool_config(choice: str) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"function_calling_config": {"mode": choice.upper()}}
    if choice == "required":
        return {"function_calling_config": {"mode": "ANY"}}
    return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [choice]}}


def build_config(request: LLMRequest, *, model: str, provider: str) -> dict[str, Any]:
    """The ``GenerateContentConfig`` fields for ``request`` (before the escape hatch).

    Automatic function calling is off: Aether's tool loop runs the tools.

    Raises:
        BadRequestError: If an instruction holds media, or the model cannot take the
            reasoning option.
    """
    config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
    if request.reasoning is not None:
        thinking = thinking_config(request, model=model, provider=provider)
        if thinking is not None:
            config["thinking_config"] = thinking
    system = system_text(request.messages, provider)
    if system is not None:
        config["system_instruction"] = system
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["top_p"] = request.top_p
    if request.max_tokens is not None:
        config["max_output_tokens"] = request.max_tokens
    if request.stop:
        config["stop_sequences"] = list(request.stop)
    if request.tools:
        declarations = [
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "parameters_json_schema": tool.parameters,
            }
            for tool in request.tools
        ]
        config["tools"] = [{"function_declarations": declarations}]
        if request.tool_choice is not None:
            config["tool_config"] = _tool_config(request.tool_choice)
    return config


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _modalities(details: Any) -> tuple[int, int]:
    """Audio and image token counts from a list of ``ModalityTokenCount``."""
    audio = image = 0
    for detail in details or ():
        modality = getattr(getattr(detail, "modality", None), "value", None)
        count = _int(getattr(detail, "token_count", None))
        if modality == "AUDIO":
            audio += count
        elif modality == "IMAGE":
            image += count
    return audio, image


def usage_tokens(usage: Any) -> TokenCounts | None:
    """Aether's token counts from ``usage_metadata``; thoughts are billed as output."""
    if usage is None:
        return None
    thoughts = _int(getattr(usage, "thoughts_token_count", None))
    input_audio, input_image = _modalities(getattr(usage, "prompt_tokens_details", None))
    tool_audio, tool_image = _modalities(getattr(usage, "tool_use_prompt_tokens_details", None))
    output_audio, _ = _modalities(getattr(usage, "candidates_tokens_details", None))
    return TokenCounts(
        input=_int(getattr(usage, "prompt_token_count", None))
        + _int(getattr(usage, "tool_use_prompt_token_count", None)),
        output=_int(getattr(usage, "candidates_token_count", None)) + thoughts,
        cached_input=_int(getattr(usage, "cached_content_token_count", None)),
        reasoning=thoughts,
        input_audio=input_audio + tool_audio,
        input_image=input_image + tool_image,
        output_audio=output_audio,
    )


def finish_reason(reason: object, *, has_tool_calls: bool) -> FinishReason:
    """Aether's finish reason for a Gemini ``finish_reason`` (an enum or its name)."""
    name = getattr(reason, "value", reason)
    normalised = _FINISH.get(name, "other") if isinstance(name, str) else "other"
    return "tool_calls" if has_tool_calls and normalised == "stop" else normalised


def read_candidate(
    response: Any,
    *,
    provider: str,
    builder: PartsBuilder,
    calls: list[ToolCall],
    required: bool,
    deltas: list[str | StreamChunk] | None = None,
) -> tuple[str, object]:
    """Read ``response``'s first candidate into ``builder`` and ``calls``.

    In a stream, ``deltas`` receives the chunk's text deltas (strings) and reasoning
    deltas (reasoning chunks), in order.

    Returns:
        The candidate's answer text and its finish reason (``None`` before the last).

    Raises:
        ContentFilterError: If the prompt was blocked (no candidate, a block reason).
        MalformedResponseError: If ``required`` and there is no candidate at all.
    """
    candidates = getattr(response, "candidates", None)
    if not candidates:
        feedback = getattr(response, "prompt_feedback", None)
        blocked = getattr(feedback, "block_reason", None)
        if blocked is not None:
            reason = getattr(blocked, "value", blocked)
            raise ContentFilterError(
                f"gemini blocked the prompt ({reason}). Rephrase it, or adjust "
                f"safety_settings through provider_options['gemini'].",
                provider=provider,
            )
        if required:
            raise malformed(provider, "the response has no candidates")
        return "", None
    candidate = candidates[0]
    content = getattr(candidate, "content", None)
    text = read_parts(
        getattr(content, "parts", None),
        provider=provider,
        builder=builder,
        calls=calls,
        deltas=deltas,
    )
    return text, getattr(candidate, "finish_reason", None)
