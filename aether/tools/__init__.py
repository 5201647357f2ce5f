"""The user-facing tool API: register functions as tools, look them up, run them.

::

    from aether.tools import dispatch_tool, get_tool, list_tools, register_tool

    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    get_tool("add").parameters   # the JSON Schema the model sees
    await dispatch_tool("add", {"a": 17, "b": 25})  # ToolResult(content="42", ...)

The tool loop that runs tools during a conversation is the middleware
`aether.middleware.tool_loop.ToolLoopMiddleware`.
"""

from aether.tools._dispatch import DispatchOutcome, ToolTimeoutError, dispatch_tool, tool_content
from aether.tools._function_tool import tool_from_function
from aether.tools.registry import (
    TOOL_KIND,
    ToolLike,
    Toolset,
    get_tool,
    list_tools,
    register_tool,
    resolve_tools,
)
from aether.tools.schema import FunctionSchema, function_schema

__all__ = [
    "TOOL_KIND",
    "DispatchOutcome",
    "FunctionSchema",
    "ToolLike",
    "ToolTimeoutError",
    "Toolset",
    "dispatch_tool",
    "function_schema",
    "get_tool",
    "list_tools",
    "register_tool",
    "resolve_tools",
    "tool_content",
    "tool_from_function",
]
