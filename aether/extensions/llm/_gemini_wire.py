"""The Gemini wire format, through google-genai's typed objects.

System messages become ``system_instruction``; an assistant turn is a ``model`` turn
whose tool calls are ``function_call`` parts; a ``tool`` turn is a ``function_response``
part, which needs the tool's name (`Message.name`, else looked up from the call it
answers). Gemini often sends calls without an id: Aether then makes one up (prefixed
``aether-gemini-``) and leaves it out when the history goes back.

Gemini 2.5+ attaches a ``thought_signature`` to function calls, and newer models
require it back with the call in the next turn. `SignatureCache` keeps them by call id.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from aether.errors import BadRequestError, ContentFilterError
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._requests import system_text, tool_names_by_call
from aether.extensions.llm._tool_calls import make_tool_call
from aether.llm.contracts import FinishReason, LLMRequest, Message, TokenCounts, ToolCall

__all__ = [
    "SYNTHETIC_ID_PREFIX",
    "CandidateParts",
    "SignatureCache",
    "build_config",
    "build_contents",
    "finish_reason",
    "read_candidate",
    "usage_fields",
]

SYNTHETIC_ID_PREFIX = "aether-gemini-"

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


class SignatureCache:
    """Thought signatures by tool-call id, the most recent ``size`` kept."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 1024) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = size

    def put(self, call_id: str, signature: bytes) -> None:
        self._entries[call_id] = signature
        self._entries.move_to_end(call_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def get(self, call_id: str) -> bytes | None:
        return self._entries.get(call_id)


def _call_part(types: Any, call: ToolCall, *, signatures: SignatureCache) -> Any:
    call_id = None if call.id.startswith(SYNTHETIC_ID_PREFIX) else call.id
    function_call = types.FunctionCall(name=call.name, args=call.arguments, id=call_id)
    return types.Part(function_call=function_call, thought_signature=signatures.get(call.id))


def _parts(types: Any, message: Message, *, names: dict[str, str], provider: str) -> list[Any]:
    if message.role == "tool":
        call_id = message.tool_call_id or ""
        name = message.name or names.get(call_id)
        if not name:
            raise BadRequestError(
                f"Gemini needs the tool's name on a tool message (call {call_id!r}): set "
                f"Message.name, or keep the assistant turn that made the call in the history",
                provider=provider,
            )
        response = types.FunctionResponse(
            name=name,
            response={"result": message.content},
            id=None if call_id.startswith(SYNTHETIC_ID_PREFIX) or not call_id else call_id,
        )
        return [types.Part(function_response=response)]
    parts = [types.Part(text=message.content)] if message.content else []
    return parts


def build_contents(
    types: Any, messages: tuple[Message, ...], *, provider: str, signatures: SignatureCache
) -> list[Any]:
    """The ``contents`` list; consecutive turns of one role share a ``Content``."""
    names = tool_names_by_call(messages)
    contents: list[Any] = []
    for message in messages:
        if message.role == "system":
            continue
        parts = _parts(types, message, names=names, provider=provider)
        parts += [_call_part(types, call, signatures=signatures) for call in message.tool_calls]
        role = "model" if message.role == "assistant" else "user"
        if contents and contents[-1].role == role:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=role, parts=parts))
    return contents


def _tool_config(choice: str) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"function_calling_config": {"mode": choice.upper()}}
    if choice == "required":
        return {"function_calling_config": {"mode": "ANY"}}
    return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [choice]}}


def build_config(request: LLMRequest) -> dict[str, Any]:
    """The ``GenerateContentConfig`` fields for ``request`` (before the escape hatch).

    Automatic function calling is off: Aether's tool loop runs the tools.
    """
    config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
    system = system_text(request.messages)
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


def usage_fields(usage: Any) -> dict[str, TokenCounts]:
    """``{"tokens": ...}`` from ``usage_metadata`` (thoughts are billed as output); ``{}``
    without one."""
    if usage is None:
        return {}
    thoughts = _int(getattr(usage, "thoughts_token_count", None))
    tokens = TokenCounts(
        input=_int(getattr(usage, "prompt_token_count", None))
        + _int(getattr(usage, "tool_use_prompt_token_count", None)),
        output=_int(getattr(usage, "candidates_token_count", None)) + thoughts,
        cached_input=_int(getattr(usage, "cached_content_token_count", None)),
        reasoning=thoughts,
    )
    return {"tokens": tokens}


def finish_reason(reason: object, *, has_tool_calls: bool) -> FinishReason:
    """Aether's finish reason for a Gemini ``finish_reason`` (an enum or its name)."""
    name = getattr(reason, "value", reason)
    normalised = _FINISH.get(name, "other") if isinstance(name, str) else "other"
    return "tool_calls" if has_tool_calls and normalised == "stop" else normalised


class CandidateParts:
    """The text, tool calls and finish reason read from one response's first candidate."""

    __slots__ = ("finish", "text", "tool_calls")

    def __init__(self, text: str, tool_calls: list[ToolCall], finish: object) -> None:
        self.text = text
        self.tool_calls = tool_calls
        self.finish = finish


def read_candidate(
    response: Any, *, provider: str, signatures: SignatureCache, required: bool
) -> CandidateParts:
    """Read ``response``'s first candidate, recording thought signatures of its calls.

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
        return CandidateParts("", [], None)
    candidate = candidates[0]
    content = getattr(candidate, "content", None)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for part in getattr(content, "parts", None) or ():
        if getattr(part, "thought", None):
            continue
        text = getattr(part, "text", None)
        if isinstance(text, str) and text:
            texts.append(text)
        function_call = getattr(part, "function_call", None)
        if function_call is not None:
            calls.append(
                _tool_call(function_call, part=part, signatures=signatures, provider=provider)
            )
    return CandidateParts("".join(texts), calls, getattr(candidate, "finish_reason", None))


def _tool_call(
    function_call: Any, *, part: Any, signatures: SignatureCache, provider: str
) -> ToolCall:
    name = getattr(function_call, "name", None)
    if not isinstance(name, str) or not name:
        # Unlike the other wires, not handed back to the model: a function response must
        # name its function, so the conversation could not continue. Retry asks again.
        raise malformed(provider, "a function_call part has no name")
    call_id = getattr(function_call, "id", None)
    if not isinstance(call_id, str) or not call_id:
        call_id = f"{SYNTHETIC_ID_PREFIX}{uuid.uuid4().hex[:16]}"
    signature = getattr(part, "thought_signature", None)
    if isinstance(signature, bytes) and signature:
        signatures.put(call_id, signature)
    args = getattr(function_call, "args", None)
    return make_tool_call(call_id, name, arguments=args if args is not None else {})
