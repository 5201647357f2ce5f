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
from aether.llm.content import AudioPart, DocumentPart, ImagePart, Part, TextPart
from aether.llm.contracts import Tool, ToolCall, ToolResult
from aether.registry import registry
from aether.tools._function_tool import tool_timeout as timeout_of
from aether.tools.registry import TOOL_KIND, ToolLike, get_tool, resolve_tools

__all__ = [
    "DispatchOutcome",
    "ToolTimeoutError",
    "dispatch_tool",
    "result_content",
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


def tool_content(value: Any) -> str:
    """A tool's return value as the text the model reads: str as is, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return pydantic_core.to_json(value, fallback=str).decode()
    except (TypeError, ValueError, pydantic_core.PydanticSerializationError):
        return str(value)


_RESULT_PARTS = (TextPart, ImagePart, AudioPart, DocumentPart)


def result_content(value: Any) -> str | tuple[Part, ...]:
    """What a tool returned, as tool-result content: parts kept as parts, the rest as text.

    A tool (an MCP server's, or yours) that returns a `TextPart`, `ImagePart`,
    `AudioPart` or `DocumentPart`, or a list of them, gives the model those parts; any
    other value becomes text with `tool_content`.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, _RESULT_PARTS):
        return (value,)
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(item, _RESULT_PARTS) for item in value)
    ):
        return tuple(value)
    return tool_content(value)


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
    content: str | tuple[Part, ...] = ""
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
        try:
            if limit is None:
                # No cancel scope without a timeout: entering one costs 10-20 µs.
                content = result_content(await tool.handler(call.arguments))
            else:
                finished = False
                with anyio.move_on_after(limit):
                    content = result_content(await tool.handler(call.arguments))
                    finished = True
                if not finished:
                    error = ToolTimeoutError(
                        f"tool {call.name!r} did not finish within {limit:g} seconds and "
                        f"was stopped; try again with a smaller request, or do without it"
                    )
        except Exception as raised:
            error = raised
    if error is not None:
        content = _error_content(call, error)
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
