"""Reading OpenAI's Responses API: output items into Aether's answer.

A response is a list of typed output items. ``message`` items hold the answer's text
(``output_text``, or a ``refusal``); ``reasoning`` items hold a reasoning model's summary
and, when asked for (``include=["reasoning.encrypted_content"]``), its reasoning in
encrypted form, which becomes a `ReasoningPart` (``signature`` = the encrypted content,
``id`` = the item's id) for the conversation to carry back; ``function_call`` items are
the client's tool calls (their ``call_id`` is the id a tool result answers). Every other
item (``web_search_call``, ``file_search_call``, ``code_interpreter_call``,
``image_generation_call``, ``mcp_call``...) is the work of one of OpenAI's built-in
tools: a `ProviderPart` whose ``kind`` is the item's type and whose ``data`` is the item,
never a tool call for Aether's tool loop. Streams are read by
`aether.extensions.llm._responses_stream`, into the same answer.
"""

from __future__ import annotations

from typing import Any

from aether.errors import ProviderError
from aether.extensions.llm._errors import event_error, malformed
from aether.extensions.llm._parts import answer_parts
from aether.extensions.llm._tool_calls import make_tool_call, text_of
from aether.llm.contracts import (
    FinishReason,
    LLMResponse,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    TokenCounts,
    ToolCall,
)

__all__ = [
    "ANCHOR_KIND",
    "SUMMARY_SEPARATOR",
    "Answer",
    "anchor",
    "failure",
    "model_of",
    "parse_response",
    "read_output",
    "reasoning_text",
    "usage_tokens",
]

ANCHOR_KIND = "response"
"""The `ProviderPart` kind that keeps a stored response's id in the conversation (the
``chained`` state): ``ProviderPart(provider=..., kind="response", data={"id": ...})``."""

SUMMARY_SEPARATOR = "\n\n"
"""Between the summary parts of one reasoning item, in its text and in a stream."""

_INCOMPLETE: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}

_RETRYABLE_CODES = frozenset({"server_error", "rate_limit_exceeded", "vector_store_timeout"})
"""``response.failed`` codes that are the server's trouble; the others are the request's."""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _details(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def usage_tokens(usage: object) -> TokenCounts | None:
    """Aether's token counts from a Responses ``usage`` object (``None`` if there is none).

    ``input_tokens`` already includes the cached tokens and the cache writes, and
    ``output_tokens`` the reasoning tokens, as `TokenCounts` counts them.
    """
    if not isinstance(usage, dict):
        return None
    given = _details(usage.get("input_tokens_details"))
    made = _details(usage.get("output_tokens_details"))
    return TokenCounts(
        input=_int(usage.get("input_tokens")),
        output=_int(usage.get("output_tokens")),
        cached_input=_int(given.get("cached_tokens")),
        cache_write=_int(given.get("cache_write_tokens")),
        reasoning=_int(made.get("reasoning_tokens")),
    )


def failure(
    provider: str, error: object, *, secrets: tuple[str, ...], key_env: str
) -> ProviderError:
    """Aether's error for a failed response (an ``error`` event, ``response.failed``).

    The server's trouble (``server_error``, ``rate_limit_exceeded``,
    ``vector_store_timeout``) stays retryable; a policy refusal is a
    `ContentFilterError`; any other code (``invalid_prompt``, ``invalid_image``...) is the
    request's fault, a `BadRequestError`.
    """
    error = _details(error)
    message = text_of(error.get("message")) or "the response failed"
    code = text_of(error.get("code")) or text_of(error.get("type"))
    kind = code
    if "policy" in code:
        kind = "content_filter"
    elif code and code not in _RETRYABLE_CODES:
        kind = "invalid_request_error"
    detail = f"{message} (code {code})" if code and kind != code else message
    return event_error(
        provider=provider,
        error_type=kind or None,
        detail=detail,
        secrets=secrets,
        key_env=key_env,
    )


class Answer:
    """What a response's output items say, in Aether's terms."""

    __slots__ = ("calls", "parts", "refused", "texts")

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.texts: list[str] = []
        self.calls: list[ToolCall] = []
        self.refused = False

    @property
    def text(self) -> str:
        """The answer's text: every message's text, in order."""
        return "".join(self.texts)

    def answer_parts(self) -> tuple[Part, ...]:
        """The parts as `LLMResponse.parts` holds them: ``()`` for plain text."""
        return answer_parts(self.parts)

    def finish(self, status: object, details: object) -> FinishReason:
        """The normalised finish reason, from the response's status and its calls."""
        if status == "incomplete":
            reason = _details(details).get("reason")
            return _INCOMPLETE.get(reason, "other") if isinstance(reason, str) else "other"
        if self.refused:
            return "content_filter"
        if self.calls:
            return "tool_calls"
        return "stop" if status in (None, "completed") else "other"


def _message(item: dict[str, Any], answer: Answer) -> None:
    content = item.get("content")
    if isinstance(content, str):  # a compatible server's shortcut
        content = [{"type": "output_text", "text": content}]
    texts: list[str] = []
    refusals: list[str] = []
    for piece in content if isinstance(content, list) else ():
        if not isinstance(piece, dict):
            continue
        if piece.get("type") == "refusal":
            refusals.append(text_of(piece.get("refusal")))
        else:
            texts.append(text_of(piece.get("text")))
    text = "".join(texts)
    if not text and any(refusals):
        text = "".join(refusals)
        answer.refused = True
    if text:
        answer.parts.append(TextPart(text=text))
        answer.texts.append(text)


def reasoning_text(item: dict[str, Any]) -> str:
    """A reasoning item's text: its summary parts, else its raw reasoning text."""
    for field, separator in (("summary", SUMMARY_SEPARATOR), ("content", "")):
        pieces = item.get(field)
        if isinstance(pieces, list):
            texts = [text_of(piece.get("text")) for piece in pieces if isinstance(piece, dict)]
            if any(texts):
                return separator.join(text for text in texts if text)
    return ""


def _reasoning(item: dict[str, Any], provider: str) -> ReasoningPart:
    return ReasoningPart(
        text=reasoning_text(item),
        signature=text_of(item.get("encrypted_content")) or None,
        provider=provider,
        id=text_of(item.get("id")) or None,
    )


def read_output(items: list[Any], *, provider: str) -> Answer:
    """The `Answer` that a response's ``output`` items make.

    Raises:
        MalformedResponseError: If an item is not an object with a type.
    """
    answer = Answer()
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise malformed(provider, f"output item {position} is {type(item).__name__}")
        kind = item.get("type")
        if kind == "message" or (kind is None and "content" in item):
            _message(item, answer)
        elif kind == "reasoning":
            answer.parts.append(_reasoning(item, provider))
        elif kind == "function_call":
            # A call without a name or call_id is the model's mistake: the call keeps an
            # empty name (or a made-up id) and the tool loop tells the model.
            call_id = text_of(item.get("call_id")) or text_of(item.get("id"))
            answer.calls.append(
                make_tool_call(
                    call_id or f"call_{position}",
                    text_of(item.get("name")),
                    arguments=item.get("arguments"),
                )
            )
        elif isinstance(kind, str) and kind:
            answer.parts.append(ProviderPart(provider=provider, kind=kind, data=item))
        else:
            raise malformed(provider, f"output item {position} has no type")
    return answer


def anchor(data: dict[str, Any], provider: str) -> ProviderPart | None:
    """The part keeping a stored response's id in the conversation (`ANCHOR_KIND`)."""
    response_id = text_of(data.get("id"))
    if not response_id:
        return None
    return ProviderPart(provider=provider, kind=ANCHOR_KIND, data={"id": response_id})


def model_of(data: dict[str, Any], fallback: str) -> str:
    """The model a response names, else ``fallback``."""
    model = data.get("model")
    return model if isinstance(model, str) and model else fallback


def parse_response(
    data: object,
    *,
    provider: str,
    fallback_model: str,
    chained: bool,
    secrets: tuple[str, ...],
    key_env: str,
) -> LLMResponse:
    """The `LLMResponse` for a Responses API body (a ``response`` object).

    Args:
        data: The decoded JSON.
        provider: The adapter's name, for the answer and its parts.
        fallback_model: The model asked for, if the body names none.
        chained: Whether to keep the response's id in the parts (`ANCHOR_KIND`).
        secrets: Values to scrub from error messages.
        key_env: The variable holding the API key, for error advice.

    Raises:
        MalformedResponseError: If the body is not a response.
        ProviderError: If the response failed (its status is ``failed``).
    """
    if not isinstance(data, dict):
        raise malformed(provider, f"expected a JSON object, got {type(data).__name__}")
    status = data.get("status")
    if status == "failed":
        raise failure(provider, data.get("error"), secrets=secrets, key_env=key_env)
    output = data.get("output")
    if not isinstance(output, list):
        raise malformed(provider, "the body has no output list")
    answer = read_output(output, provider=provider)
    if chained and (found := anchor(data, provider)) is not None:
        answer.parts.append(found)
    return LLMResponse(
        text=answer.text,
        model=model_of(data, fallback_model),
        tokens=usage_tokens(data.get("usage")) or TokenCounts(),
        parts=answer.answer_parts(),
        tool_calls=tuple(answer.calls),
        finish_reason=answer.finish(status, data.get("incomplete_details")),
        provider=provider,
        response_id=text_of(data.get("id")) or None,
    )
