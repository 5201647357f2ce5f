"""Running one tool call: every failure becomes content the model can read and correct.

Unknown tools, arguments that are not a JSON object, arguments that do not fit the
signature, exceptions raised by the tool and timeouts all end as a `ToolResult` with
``is_error=True`` and a message saying what went wrong and what to do. Only
cancellation (and ``BaseException`` such as ``KeyboardInterrupt``) propagates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import pydantic_core
from pydantic import BaseModel

from aether.errors import ToolArgumentsError, ToolError
from aether.llm.contracts import (
    AudioPart,
    Content,
    DocumentPart,
    ImagePart,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
)
from aether.registry import registry
from aether.tools._function_tool import tool_timeout as timeout_of
from aether.tools.registry import TOOL_KIND, ToolLike, get_tool, resolve_tools

__all__ = [
    "DispatchOutcome",
    "ToolTimeoutError",
    "dispatch_tool",
    "run_tool_call",
    "tool_content",
]


class ToolTimeoutError(ToolError, TimeoutError):
    """A tool ran past its timeout and was stopped (what tool.error events carry)."""


@dataclass(frozen=True, slots=True)
class DispatchOutcome:
    """What one dispatch produced: the result for the model, and the error if it failed."""

    result: ToolResult
    error: Exception | None
    duration_seconds: float


_TOOL_PARTS = (TextPart, ImagePart, AudioPart, DocumentPart)
"""The parts a tool may return: a tool's output is content, never reasoning or a
provider's own block."""
_ANY_PART = (*_TOOL_PARTS, ReasoningPart, ProviderPart)


def _json_text(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return pydantic_core.to_json(value, fallback=str).decode()
    except (TypeError, ValueError, pydantic_core.PydanticSerializationError):
        return str(value)


def _tool_part(value: Any) -> Part:
    if isinstance(value, _TOOL_PARTS):
        return value
    if isinstance(value, ReasoningPart | ProviderPart):
        raise ToolError(
            f"a tool cannot return a {type(value).__name__}: return text, data, or "
            f"TextPart, ImagePart, AudioPart and DocumentPart"
        )
    return TextPart(text=value if isinstance(value, str) else _json_text(value))


def tool_content(value: Any) -> Content:
    """A tool's return value as what the model reads: text, or parts.

    A string is the text itself. An image, audio, document or text part, or a list or
    tuple holding at least one part, becomes parts (strings in it become `TextPart`,
    other values their JSON). A `ToolResult` gives its ``content``. Anything else is
    JSON (pydantic models, dicts, lists, numbers; `str` where JSON cannot say it).

    Raises:
        ToolError: If the value holds a reasoning or provider part.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, ToolResult):
        return value.content
    if isinstance(value, _ANY_PART):
        return (_tool_part(value),)
    if isinstance(value, list | tuple) and any(isinstance(item, _ANY_PART) for item in value):
        return tuple(_tool_part(item) for item in value)
    return _json_text(value)


def _malformed_arguments(call: ToolCall) -> ToolArgumentsError:
    raw = call.raw_arguments or ""
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        reason = f"not valid JSON ({error})"
    except RecursionError:
        reason = "JSON nested too deeply to read"
    else:
        reason = f"JSON {type(parsed).__name__}, not a JSON object"
    shown = raw if len(raw) <= 200 else raw[:197] + "..."
    return ToolArgumentsError(
        f"the arguments for tool {call.name!r} are {reason}: {shown!r}. Call the tool "
        f"again with its arguments as one JSON object that matches its schema."
    )


def _error_content(call: ToolCall, error: Exception) -> str:
    if isinstance(error, ToolArgumentsError):
        message = str(error)
        if not message.endswith("schema."):
            message += ". Call the tool again with corrected arguments."
        return f"Error: {message}"
    if isinstance(error, ToolError | ToolTimeoutError):
        return f"Error: {error}"
    try:
        message = str(error)
    except Exception:  # a tool's own exception class whose __str__ fails
        message = "(its message could not be read)"
    return f"Error: tool {call.name!r} raised {type(error).__name__}: {message}"


async def run_tool_call(
    call: ToolCall,
    tool: Tool | None,
    *,
    available: Sequence[str],
    tool_timeout: float | None = None,
) -> DispatchOutcome:
    """Run ``call`` with ``tool`` and return the result, failures included as content.

    Args:
        call: The model's call.
        tool: The tool it names, or ``None`` if the model named no known tool.
        available: The tool names the model may call, for the unknown-tool message.
        tool_timeout: Seconds allowed when the tool has no timeout of its own.
    """
    started = time.perf_counter()
    error: Exception | None = None
    content: Content = ""
    if tool is None:
        listed = ", ".join(available) or "none"
        error = ToolError(
            f"there is no tool named {call.name!r}. The tools you can call are: {listed}."
        )
    elif tool.handler is None:
        error = ToolError(f"tool {call.name!r} has no handler to run it")
    elif call.raw_arguments is not None:
        error = _malformed_arguments(call)
    else:
        limit = timeout_of(tool) or tool_timeout
        value: Any = None
        try:
            if limit is None:
                # No cancel scope without a timeout: entering one costs 10-20 µs.
                value = await tool.handler(call.arguments)
                content = tool_content(value)
            else:
                finished = False
                with anyio.move_on_after(limit):
                    value = await tool.handler(call.arguments)
                    content = tool_content(value)
                    finished = True
                if not finished:
                    error = ToolTimeoutError(
                        f"tool {call.name!r} did not finish within {limit:g} seconds and "
                        f"was stopped; try again with a smaller request, or do without it"
                    )
        except Exception as raised:
            error = raised
        else:
            if isinstance(value, ToolResult) and value.is_error and error is None:
                # The tool reported its own failure: its content goes back as it is.
                reported = ToolError(f"tool {call.name!r} reported an error: {value.text}")
                return _outcome(call, content, reported, started)
    if error is not None:
        content = _error_content(call, error)
    return _outcome(call, content, error, started)


def _outcome(
    call: ToolCall, content: Content, error: Exception | None, started: float
) -> DispatchOutcome:
    result = ToolResult(
        call_id=call.id, name=call.name, content=content, is_error=error is not None
    )
    return DispatchOutcome(result, error, time.perf_counter() - started)


async def dispatch_tool(
    call: ToolCall | str,
    arguments: dict[str, Any] | None = None,
    /,
    *,
    tools: Iterable[ToolLike] | None = None,
    tool_timeout: float | None = None,
) -> ToolResult:
    """Run one tool call outside the loop, exactly as the loop would.

    ::

        result = await dispatch_tool("add", {"a": 17, "b": 25})
        result.content  # "42"

    Args:
        call: A `ToolCall`, or a tool name (then ``arguments`` are its arguments).
        arguments: The arguments, when ``call`` is a name.
        tools: The tools to choose from (names, functions, `Tool` objects); the
            registered tools by default.
        tool_timeout: Seconds allowed when the tool has no timeout of its own.

    Returns:
        The result. Failures are results too (``is_error=True``), never exceptions.
    """
    if isinstance(call, str):
        call = ToolCall(id=f"call_{call}", name=call, arguments=arguments or {})
    if tools is None:
        names = registry.names(TOOL_KIND)
        tool = get_tool(call.name) if call.name in names else None
    else:
        by_name = {item.name: item for item in resolve_tools(tools)}
        names = list(by_name)
        tool = by_name.get(call.name)
    outcome = await run_tool_call(call, tool, available=names, tool_timeout=tool_timeout)
    return outcome.result
