"""Tool calls on the wire: argument text in and out, and fragments assembled in streams.

A model's argument text is usually a JSON object. When it is not (truncated by
``max_tokens``, or simply invalid), the call keeps the text in ``raw_arguments`` with
``arguments={}``: nothing crashes, and the tool loop can tell the model what went wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aether.llm.contracts import ToolCall

__all__ = ["ToolCallAssembler", "arguments_json", "make_tool_call", "parse_arguments", "text_of"]


def text_of(value: object) -> str:
    """``value`` if the wire gave a string there, else ``""``."""
    return value if isinstance(value, str) else ""


def parse_arguments(text: str | None) -> tuple[dict[str, Any], str | None]:
    """``(arguments, raw_arguments)`` from a model's argument text.

    Empty text means no arguments. Anything that is not a JSON object gives ``{}`` and
    the text itself as ``raw_arguments``.
    """
    if text is None or not text.strip():
        return {}, None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        return {}, text
    if isinstance(parsed, dict):
        return parsed, None
    return {}, text


def make_tool_call(
    call_id: str, name: str, *, arguments: object, signature: str | None = None
) -> ToolCall:
    """A `ToolCall` from argument text (parsed) or an already-decoded object."""
    if isinstance(arguments, dict):
        return ToolCall(id=call_id, name=name, arguments=arguments, signature=signature)
    if arguments is None or isinstance(arguments, str):
        parsed, raw = parse_arguments(arguments)
        return ToolCall(
            id=call_id, name=name, arguments=parsed, raw_arguments=raw, signature=signature
        )
    return ToolCall(id=call_id, name=name, raw_arguments=json.dumps(arguments), signature=signature)


def arguments_json(call: ToolCall) -> str:
    """The argument text to send back to a model: what it sent, when it was not JSON."""
    if call.raw_arguments is not None:
        return call.raw_arguments
    return json.dumps(call.arguments, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class _Partial:
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)
    complete: object = None


class ToolCallAssembler:
    """Builds complete tool calls from the fragments a stream delivers.

    Fragments are keyed by the vendor's index (or content-block number); the first
    fragment of a call usually carries its id and name, later ones only argument text.
    A fragment without a key continues the most recent call, unless it carries an id
    other than that call's: then it starts a new one.
    """

    __slots__ = ("_calls", "_last")

    def __init__(self) -> None:
        self._calls: dict[object, _Partial] = {}
        self._last: object = None

    def add(
        self,
        key: object,
        *,
        call_id: object = None,
        name: object = None,
        arguments: object = None,
    ) -> None:
        """Record one fragment of the call at ``key``.

        Argument text is appended; arguments that arrive decoded (an object, from some
        OpenAI-compatible servers) replace the call's arguments.
        """
        call_id = call_id if isinstance(call_id, str) else None  # the wire's JSON, unchecked
        name = name if isinstance(name, str) else None
        if key is None:
            key = self._last
            if key is None or (call_id and self._calls[key].id not in ("", call_id)):
                key = ("unkeyed", len(self._calls))  # a new id starts a new call
        partial = self._calls.get(key)
        if partial is None:
            partial = self._calls[key] = _Partial()
        self._last = key
        if call_id:
            partial.id = call_id
        if name:
            partial.name = name
        if isinstance(arguments, str):
            if arguments:
                partial.parts.append(arguments)
        elif arguments is not None:
            partial.parts.clear()
            partial.complete = arguments

    def set_arguments(self, key: object, arguments: object) -> None:
        """Record arguments that arrived whole (already decoded) for the call at ``key``."""
        self.add(key, arguments=arguments)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self, *, id_prefix: str = "call") -> tuple[ToolCall, ...]:
        """The complete calls, in the order they started."""
        result = []
        for position, partial in enumerate(self._calls.values()):
            call_id = partial.id or f"{id_prefix}_{position}"
            if partial.parts or partial.complete is None:
                arguments: object = "".join(partial.parts)
            else:
                arguments = partial.complete
            result.append(make_tool_call(call_id, partial.name, arguments=arguments))
        return tuple(result)
