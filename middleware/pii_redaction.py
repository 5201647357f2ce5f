"""PII redaction: the provider sees placeholders; your caller and your tools see the values.

Emails and phone numbers are replaced by placeholders such as ``[EMAIL_1]`` and
``[PHONE_1]`` in everything the provider is sent: every message of the request (tool
turns and tool-call arguments included) and, when the tool loop runs inside this
middleware, every tool result before the model reads it. On the way out the values are
put back: in the answer's text, tool calls and tool turns, and in streams in every text
delta, tool-call and tool-result chunk. In a stream a placeholder may arrive split
across chunks (``"[EMA"``, ``"IL_1]"``), so the tail of a chunk that could be the start of
one of this call's placeholders is held back until the next chunk decides it, and
nothing else is delayed.

Tools run by the tool loop get the real values: the request's tools go inward wrapped,
and the wrapper un-masks the model's arguments, runs the tool with
`aether.tools.dispatch_tool` exactly as the loop would (its timeout and its error text
included), and masks what the tool returns, error messages too, before the model reads
it. A tool is your code, on your side of the boundary; a ``send_email(to="[EMAIL_1]")``
could do nothing useful.

Which placeholders are put back. The mapping lives in a local variable of each call,
never on the middleware object, so concurrent calls cannot see each other's values. A
value keeps one placeholder for the whole call, numbered by first appearance. Only a
placeholder this call issued is put back, so:

- a placeholder-shaped text that reached the call before it was issued (written by the
  caller, returned by a tool, written by the model) is never issued afterwards, and
  comes back as written;
- a tool result that contains a placeholder already issued (``"owner is [EMAIL_1]"``)
  has it masked like a value: the model reads a fresh placeholder, and the caller gets
  the tool's literal text back, never the address that ``[EMAIL_1]`` stands for;
- in a call's ``tool_messages``, an assistant turn gets back only the placeholders the
  model had been shown when it wrote that turn.

Where to put it: outermost (first in ``Aether(middleware=[...])``), so every layer inside
it, an audit log or a cache included, sees only placeholders. Below the tool loop
(``Aether(stack=[...])``) it works too, one mapping per model call.

Content parts. Text parts are masked and un-masked like text, in messages, tool results,
the answer's ``parts`` and the final chunk's ``parts``. Reasoning parts are never
touched: their text is signed by the provider (Anthropic, Gemini), and a changed text
breaks the signature the next turn must send back; the model reasoned over placeholders,
so ``response.reasoning`` and ``reasoning`` chunks show placeholders, never values, and
no value goes back to the provider in them. Images, audio and documents are not looked
into (a photographed business card goes as it is): keep such media out of the request if
it must not reach the provider.

Patterns are heuristics. Phone numbers need a ``+`` or separators (``+44 20 7946 0958``,
``(555) 123-4567``, ``555.123.4567``, ``1-800-555-0199``, ``06 12 34 56 78``); a bare run
of digits is left alone, since order ids and timestamps look the same. Emails may be
internationalised (``jörg@bücher.de``). Add your own kinds with ``patterns={...}``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import Any

from aether.errors import ToolError
from aether.llm.contracts import (
    Content,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    Tool,
    ToolCall,
    content_text,
    map_content_text,
)
from aether.llm.streaming import aclose_stream
from aether.pipeline import CallNext, StreamNext
from aether.tools import dispatch_tool

__all__ = [
    "DEFAULT_PATTERNS",
    "EMAIL_PATTERN",
    "PHONE_PATTERN",
    "PIIRedactionMiddleware",
    "Redaction",
]

EMAIL_PATTERN = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"  # labels, Unicode letters allowed
    r"(?:[^\W\d_]{2,63}|xn--[A-Za-z0-9-]{1,59})"  # a top-level domain
    r"(?![^\W_])"  # "-thanks" or "_x" may follow; a letter or digit may not
)
"""An email address, internationalised ones included."""

PHONE_PATTERN = re.compile(
    r"(?<![\w+])(?<!\d[ .-])"
    r"(?:"
    r"\+(?=(?:[ .()-]{0,2}\d){7})\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){1,5}"  # +44 20 7946 0958
    r"|\(\d{2,4}\)[ -]?\d{3,4}[ -]?\d{3,4}"  # (555) 123-4567
    r"|(?:1[ .-])?\d{3}(?P<nanp>[ .-])\d{3}(?P=nanp)\d{4}"  # 555.123.4567, 1-800-555-0199
    r"|\d{2,4}[ -]\d{3,4}[ -]\d{3,4}"  # 555-123-4567, 020 7946 0958
    r"|0[1-9](?P<pairs>[ .-])\d{2}(?:(?P=pairs)\d{2}){3}"  # 06 12 34 56 78
    r")"
    r"(?![\w)]|[ .-]\d)"
)
"""A formatted phone number: international with ``+``, or national with separators."""

DEFAULT_PATTERNS: Mapping[str, re.Pattern[str]] = {"EMAIL": EMAIL_PATTERN, "PHONE": PHONE_PATTERN}

_KIND = re.compile(r"[A-Z][A-Z0-9_]*")
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*_\d+\]")
_AS_WRITTEN = ""  # the kind of a span that is kept as it is


class Redaction:
    """The placeholders of one call: masks what goes in, un-masks what comes out.

    Build one per call from the original request; its length is the number of
    placeholders issued so far.

    Args:
        request: The request as the caller sent it.
        patterns: Kind name (capital letters, digits, ``_``) to the pattern it masks.
    """

    __slots__ = ("_counters", "_from_request", "_originals", "_patterns", "_placeholders", "_taken")

    def __init__(self, request: LLMRequest, *, patterns: Mapping[str, re.Pattern[str]]) -> None:
        self._patterns = patterns
        self._originals: dict[str, str] = {}
        self._placeholders: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._from_request: frozenset[str] = frozenset()
        # Placeholder-shaped text anywhere in the request is never issued, so the mapping
        # never depends on which message is masked first.
        self._taken: set[str] = set()
        for message in request.messages:
            _map_message(message, self._note_taken)

    def __len__(self) -> int:
        return len(self._originals)

    @property
    def placeholders(self) -> dict[str, str]:
        """Each placeholder issued so far and the value it stands for."""
        return dict(self._originals)

    def _note_taken(self, text: str) -> str:
        if "[" in text:
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

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        spans = [
            (match.start(), -match.end(), kind)
            for kind, pattern in self._patterns.items()
            for match in pattern.finditer(text)
        ]
        if "[" in text:
            for match in _PLACEHOLDER.finditer(text):
                token = match[0]
                if token in self._originals:
                    # Already issued: its literal text is masked like a value.
                    spans.append((match.start(), -match.end(), token[1 : token.rindex("_")]))
                else:
                    self._taken.add(token)
                    spans.append((match.start(), -match.end(), _AS_WRITTEN))
        return spans

    def mask(self, text: str) -> str:
        """Replace every match of every pattern by its placeholder (earliest, longest wins).

        Placeholder-shaped text is kept as written and never issued later, unless this
        call already issued it: then it is masked too, so that it comes back literally.
        """
        spans = self._spans(text)
        if not spans:
            return text
        spans.sort()
        parts: list[str] = []
        position = 0
        for start, negative_end, kind in spans:
            if start < position:
                continue
            end = -negative_end
            parts.append(text[position:start])
            value = text[start:end]
            parts.append(value if kind == _AS_WRITTEN else self._placeholder_for(kind, value))
            position = end
        parts.append(text[position:])
        return "".join(parts)

    def unmask(self, text: str, *, shown: Collection[str] | None = None) -> str:
        """Put back the values of this call's placeholders; other text is left alone.

        Args:
            text: Text the model wrote (or a tool result this call masked).
            shown: If given, only these placeholders are put back.
        """
        if "[" not in text:
            return text
        originals, taken = self._originals, self._taken

        def put_back(match: re.Match[str]) -> str:
            token = match[0]
            value = originals.get(token)
            if value is None:
                taken.add(token)  # never issued later: it stays what the model wrote
                return token
            return value if shown is None or token in shown else token

        return _PLACEHOLDER.sub(put_back, text)

    def mask_request(self, request: LLMRequest) -> LLMRequest:
        """The request with every message masked and its runnable tools wrapped."""
        messages = tuple(_map_message(message, self.mask) for message in request.messages)
        self._from_request = frozenset(self._originals)
        update: dict[str, Any] = {}
        if any(new is not old for new, old in zip(messages, request.messages, strict=True)):
            update["messages"] = messages
        if any(tool.handler is not None for tool in request.tools):
            update["tools"] = tuple(self._guarded(tool) for tool in request.tools)
        return request.model_copy(update=update) if update else request

    def _guarded(self, tool: Tool) -> Tool:
        """``tool`` with its arguments un-masked and its result masked."""
        if tool.handler is None:
            return tool

        async def handler(arguments: dict[str, Any]) -> Content:
            call = ToolCall(
                id="redacted", name=tool.name, arguments=_map_strings(arguments, self.unmask)
            )
            result = await dispatch_tool(call, tools=[tool])
            content = map_content_text(result.content, self.mask)
            if result.is_error:
                # The loop writes "Error: <message>" for a ToolError: the same text, masked.
                raise ToolError(content_text(content).removeprefix("Error: "))
            return content

        return tool.model_copy(update={"handler": handler})

    def unmask_response(self, response: LLMResponse) -> LLMResponse:
        """The response with its text, text parts, tool calls and tool turns un-masked."""
        if not self._originals:
            return response
        update: dict[str, Any] = {
            "text": self.unmask(response.text),
            "tool_calls": tuple(_map_call(call, self.unmask) for call in response.tool_calls),
            "tool_messages": self._unmask_turns(response.tool_messages),
        }
        if response.parts:
            update["parts"] = map_content_text(response.parts, self.unmask)
        return response.model_copy(update=update)

    def _unmask_turns(self, turns: tuple[Message, ...]) -> tuple[Message, ...]:
        # A turn the model wrote gets back only what it had been shown by then, so a
        # placeholder it made up is not turned into a value a later tool result brought.
        shown = set(self._from_request)
        unmasked = []
        for turn in turns:
            if turn.role == "tool":
                shown.update(_PLACEHOLDER.findall(turn.text))
                unmasked.append(_map_message(turn, self.unmask))
            else:
                unmasked.append(_map_message(turn, lambda text: self.unmask(text, shown=shown)))
        return tuple(unmasked)

    def unmask_chunk(self, chunk: StreamChunk, *, text: str) -> StreamChunk:
        """A non-text-delta chunk (final, tool call, tool result) un-masked, with ``text``."""
        update: dict[str, Any] = {"text": text}
        if chunk.tool_calls:
            update["tool_calls"] = tuple(_map_call(call, self.unmask) for call in chunk.tool_calls)
        if chunk.tool_call is not None:
            update["tool_call"] = _map_call(chunk.tool_call, self.unmask)
        if chunk.tool_result is not None:
            update["tool_result"] = chunk.tool_result.model_copy(
                update={"content": map_content_text(chunk.tool_result.content, self.unmask)}
            )
        if chunk.parts:
            update["parts"] = map_content_text(chunk.parts, self.unmask)
        return chunk.model_copy(update=update)


class _StreamUnmasker:
    """Un-masks text deltas, holding back a tail that may be a split placeholder."""

    __slots__ = ("_issued", "_pending", "_prefixes", "_redaction")

    def __init__(self, redaction: Redaction) -> None:
        self._redaction = redaction
        self._pending = ""
        self._issued = -1
        self._prefixes: set[str] = set()

    def _could_become_placeholder(self, tail: str) -> bool:
        if len(self._redaction) != self._issued:  # a tool result issued more
            self._issued = len(self._redaction)
            self._prefixes = {
                placeholder[:length]
                for placeholder in self._redaction.placeholders
                for length in range(1, len(placeholder))
            }
        return tail in self._prefixes

    def feed(self, delta: str) -> str:
        """The text that can be released now, un-masked."""
        if not self._pending and "[" not in delta:
            return delta  # the common case: nothing held, nothing to look at
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and self._could_become_placeholder(text[cut:]):
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
            placeholder) to the pattern it masks. Defaults to `DEFAULT_PATTERNS`
            (``EMAIL`` and ``PHONE``).
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
            if not redaction and not any(tool.handler for tool in request.tools):
                # Nothing masked and no tool result to mask later: nothing to put back.
                async for chunk in inner:
                    yield chunk
                return
            unmasker = _StreamUnmasker(redaction)
            async for chunk in inner:
                if chunk.kind == "reasoning":
                    yield chunk  # signed by the provider: passed on as it came
                    continue
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
    content = map_content_text(message.content, function)
    calls = tuple(_map_call(call, function) for call in message.tool_calls)
    if content == message.content and all(
        new is old for new, old in zip(calls, message.tool_calls, strict=True)
    ):
        return message
    return message.model_copy(update={"content": content, "tool_calls": calls})
