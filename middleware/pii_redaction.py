"""PII redaction: the provider sees placeholders, your caller sees the real values.

Emails and phone numbers in the request are replaced by placeholders such as
``[EMAIL_1]`` and ``[PHONE_1]`` before the request goes inward; placeholders in the answer
are put back before it comes out. Both modes are covered: in a stream a placeholder may
arrive split across chunks (``"[EMA"``, ``"IL_1]"``), so the tail of a chunk that could be
the start of one of this call's placeholders is held back until the next chunk decides it,
and nothing else is delayed.

The mapping lives in a local variable of each call, never on the middleware object, so
concurrent calls cannot see each other's values. The same value gets the same placeholder
throughout a call, numbered in order of first appearance; a placeholder-shaped text that
the caller wrote themselves is never reused, so it cannot be "un-masked" into someone's
address.

Where to put it: outermost (first in ``Aether(middleware=[...])``), so every layer inside
it, an audit log or a cache included, sees only placeholders. Tools run by the tool loop
then also receive placeholders; to give tools the real values while the provider still
sees none, place it below the tool loop with ``Aether(stack=[...])``.

Patterns are heuristics: formatted phone numbers (``+44 20 7946 0958``, ``(555)
123-4567``, ``555-123-4567``) are masked, a bare run of digits is not, since order ids and
timestamps look the same. Add your own kinds with ``patterns={...}``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk, ToolCall
from aether.llm.streaming import aclose_stream
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "DEFAULT_PATTERNS",
    "EMAIL_PATTERN",
    "PHONE_PATTERN",
    "PIIRedactionMiddleware",
    "Redaction",
]

EMAIL_PATTERN = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
    r"(?![\w-])"
)
"""An email address."""

PHONE_PATTERN = re.compile(
    r"(?<![\w+])(?<!\d[ .-])"
    r"(?:"
    r"\+(?=(?:[ .()-]{0,2}\d){7})\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){1,5}"  # +44 20 7946 0958
    r"|\(\d{2,4}\)[ -]?\d{3,4}[ -]?\d{3,4}"  # (555) 123-4567
    r"|\d{2,4}[ -]\d{3,4}[ -]\d{3,4}"  # 555-123-4567, 020 7946 0958
    r")"
    r"(?![\w)]|[ .-]\d)"
)
"""A formatted phone number: international with ``+``, or national with separators."""

DEFAULT_PATTERNS: Mapping[str, re.Pattern[str]] = {"EMAIL": EMAIL_PATTERN, "PHONE": PHONE_PATTERN}

_KIND = re.compile(r"[A-Z][A-Z0-9_]*")
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*_\d+\]")


class Redaction:
    """The placeholders of one call: masks its request, un-masks its answer.

    Build one per call from the original request (`mask_request` needs nothing else);
    it is falsy while nothing has been masked.

    Args:
        request: The request as the caller sent it.
        patterns: Kind name (capital letters, digits, ``_``) to the pattern it masks.
    """

    __slots__ = ("_counters", "_originals", "_patterns", "_placeholders", "_taken")

    def __init__(self, request: LLMRequest, *, patterns: Mapping[str, re.Pattern[str]]) -> None:
        self._patterns = patterns
        self._originals: dict[str, str] = {}
        self._placeholders: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[str] = set()
        for message in request.messages:
            self._taken.update(_PLACEHOLDER.findall(message.content))
            for call in message.tool_calls:
                _map_strings(call.arguments, self._note_taken)

    def __bool__(self) -> bool:
        return bool(self._originals)

    @property
    def placeholders(self) -> dict[str, str]:
        """Each placeholder issued so far and the value it stands for."""
        return dict(self._originals)

    def _note_taken(self, text: str) -> str:
        self._taken.update(_PLACEHOLDER.findall(text))
        return text

    def _placeholder_for(self, kind: str, value: str) -> str:
        existing = self._placeholders.get(value)
        if existing is not None:
            return existing
        number = self._counters.get(kind, 0)
        while True:
            number += 1
            placeholder = f"[{kind}_{number}]"
            if placeholder not in self._taken:
                break
        self._counters[kind] = number
        self._placeholders[value] = placeholder
        self._originals[placeholder] = value
        return placeholder

    def mask(self, text: str) -> str:
        """Replace every match of every pattern by its placeholder (earliest, longest wins)."""
        spans = sorted(
            (match.start(), -match.end(), kind)
            for kind, pattern in self._patterns.items()
            for match in pattern.finditer(text)
        )
        if not spans:
            return text
        parts: list[str] = []
        position = 0
        for start, negative_end, kind in spans:
            if start < position:
                continue
            end = -negative_end
            parts.append(text[position:start])
            parts.append(self._placeholder_for(kind, text[start:end]))
            position = end
        parts.append(text[position:])
        return "".join(parts)

    def unmask(self, text: str) -> str:
        """Put back the values of this call's placeholders; other text is left alone."""
        if not self._originals or "[" not in text:
            return text
        originals = self._originals
        return _PLACEHOLDER.sub(lambda match: originals.get(match[0], match[0]), text)

    def mask_request(self, request: LLMRequest) -> LLMRequest:
        """The request with every message's text and tool-call arguments masked."""
        messages = tuple(_map_message(message, self.mask) for message in request.messages)
        if all(new is old for new, old in zip(messages, request.messages, strict=True)):
            return request
        return request.model_copy(update={"messages": messages})

    def unmask_response(self, response: LLMResponse) -> LLMResponse:
        """The response with its text, tool calls and tool turns un-masked."""
        if not self._originals:
            return response
        return response.model_copy(
            update={
                "text": self.unmask(response.text),
                "tool_calls": tuple(_map_call(call, self.unmask) for call in response.tool_calls),
                "tool_messages": tuple(
                    _map_message(message, self.unmask) for message in response.tool_messages
                ),
            }
        )

    def unmask_chunk(self, chunk: StreamChunk, *, text: str) -> StreamChunk:
        """A non-text-delta chunk (final, tool call, tool result) un-masked, with ``text``."""
        update: dict[str, Any] = {"text": text}
        if chunk.tool_calls:
            update["tool_calls"] = tuple(_map_call(call, self.unmask) for call in chunk.tool_calls)
        if chunk.tool_call is not None:
            update["tool_call"] = _map_call(chunk.tool_call, self.unmask)
        if chunk.tool_result is not None:
            update["tool_result"] = chunk.tool_result.model_copy(
                update={"content": self.unmask(chunk.tool_result.content)}
            )
        return chunk.model_copy(update=update)


class _StreamUnmasker:
    """Un-masks text deltas, holding back a tail that may be a split placeholder."""

    __slots__ = ("_pending", "_prefixes", "_redaction")

    def __init__(self, redaction: Redaction) -> None:
        self._redaction = redaction
        self._pending = ""
        self._prefixes = {
            placeholder[:length]
            for placeholder in redaction.placeholders
            for length in range(1, len(placeholder))
        }

    def feed(self, delta: str) -> str:
        """The text that can be released now, un-masked."""
        if not self._pending and "[" not in delta:
            return delta  # the common case: nothing held, nothing to look at
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and text[cut:] in self._prefixes:
            self._pending = text[cut:]
            text = text[:cut]
        else:
            self._pending = ""
        return self._redaction.unmask(text)

    def flush(self) -> str:
        """What is still held back: a tail that never became a placeholder is plain text."""
        pending, self._pending = self._pending, ""
        return pending


class PIIRedactionMiddleware:
    """Masks emails and phone numbers on the way in and un-masks them on the way out.

    Args:
        patterns: Kind name (capital letters, digits and ``_``; it appears in the
            placeholder) to the
            pattern it masks. Defaults to `DEFAULT_PATTERNS` (``EMAIL`` and ``PHONE``).
    """

    name = "PIIRedaction"

    __slots__ = ("_patterns",)

    def __init__(self, patterns: Mapping[str, re.Pattern[str]] = DEFAULT_PATTERNS) -> None:
        bad = [kind for kind in patterns if not _KIND.fullmatch(kind)]
        if bad:
            raise ValueError(
                f"pattern kinds must be capital letters, digits and '_' (they appear in the "
                f"placeholders, such as [EMAIL_1]); rename {', '.join(map(repr, bad))}"
            )
        self._patterns = dict(patterns)

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        redaction = Redaction(request, patterns=self._patterns)
        response = await call_next(redaction.mask_request(request))
        return redaction.unmask_response(response)

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        redaction = Redaction(request, patterns=self._patterns)
        inner = call_next(redaction.mask_request(request))
        try:
            if not redaction:
                async for chunk in inner:
                    yield chunk
                return
            unmasker = _StreamUnmasker(redaction)
            async for chunk in inner:
                if chunk.kind == "text" and not chunk.is_final:
                    text = unmasker.feed(chunk.text)
                    if text == chunk.text:
                        yield chunk
                    elif text:
                        yield chunk.model_copy(update={"text": text})
                    continue
                # A final or tool chunk: release what was held back before it.
                held = unmasker.flush()
                if chunk.kind == "text":
                    yield redaction.unmask_chunk(chunk, text=redaction.unmask(held + chunk.text))
                    continue
                if held:
                    yield StreamChunk(text=held)
                yield redaction.unmask_chunk(chunk, text=chunk.text)
            held = unmasker.flush()
            if held:
                yield StreamChunk(text=held)
        finally:
            await aclose_stream(inner)


def _map_strings(value: Any, function: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return function(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, function) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_map_strings(item, function) for item in value)
    return value


def _map_call(call: ToolCall, function: Callable[[str], str]) -> ToolCall:
    arguments = _map_strings(call.arguments, function)
    raw = function(call.raw_arguments) if call.raw_arguments is not None else None
    if arguments == call.arguments and raw == call.raw_arguments:
        return call
    return call.model_copy(update={"arguments": arguments, "raw_arguments": raw})


def _map_message(message: Message, function: Callable[[str], str]) -> Message:
    content = function(message.content)
    calls = tuple(_map_call(call, function) for call in message.tool_calls)
    if content == message.content and all(
        new is old for new, old in zip(calls, message.tool_calls, strict=True)
    ):
        return message
    return message.model_copy(update={"content": content, "tool_calls": calls})
