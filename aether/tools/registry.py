"""``@register_tool``: any function becomes a tool every provider can call, by name.

::

    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    await client.ask("What is 17 + 25?", tools=["add"])

Tools live in the generic plugin registry (`aether.registry`) under the kind ``"tool"``.
The decorator builds the schema at once, so a function that cannot be a tool fails at
import, not in the middle of a conversation, and it returns the function unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from aether.errors import ToolError
from aether.llm.contracts import Tool
from aether.registry import registry, same_definition
from aether.tools._function_tool import cached_tool, tool_from_function

__all__ = [
    "TOOL_KIND",
    "ToolLike",
    "Toolset",
    "get_tool",
    "list_tools",
    "register_tool",
    "resolve_tools",
]

TOOL_KIND = "tool"
"""The registry kind tools are kept under."""


@runtime_checkable
class Toolset(Protocol):
    """Many tools behind one object, such as `aether.mcp.MCPToolset`.

    ``tools=[...]`` expands a toolset into the tools it offers at that moment.
    """

    def current_tools(self) -> Sequence[Tool]:
        """The tools the set offers now.

        Raises:
            ToolError: If the set cannot offer tools now (not started, say).
        """
        ...


ToolLike = str | Callable[..., Any] | Tool | Toolset
"""What ``tools=[...]`` accepts: a registered name, a function, a `Tool`, or a `Toolset`."""

_F = TypeVar("_F", bound=Callable[..., Any])


def _describe(function: Any) -> str:
    if isinstance(function, str):
        return function
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{qualname}" if module else qualname


@overload
def register_tool(function: _F, /) -> _F: ...


@overload
def register_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    replace: bool = False,
) -> Callable[[_F], _F]: ...


def register_tool(
    function: Any = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    replace: bool = False,
) -> Any:
    """Register a sync or async function as a tool; use bare or with arguments.

    Args:
        function: The function, when used as a bare ``@register_tool``.
        name: The tool name the model sees; the function's name by default.
        description: What the tool does, for the model; the docstring's text by default.
        timeout: Seconds the tool may run; past it the model is told it timed out.
        replace: Replace a tool already registered under this name, on purpose.

    Returns:
        The function itself, unchanged and still callable.

    Registering the same definition again (same module and qualified name: a notebook
    cell run twice, ``importlib.reload``) replaces the tool.

    Raises:
        ToolError: If another function is registered under the same name (the message
            names both), or no schema can be built from the function's signature.
    """

    def decorator(target: _F) -> _F:
        tool = tool_from_function(target, name=name, description=description, timeout=timeout)
        existing = registry.find(TOOL_KIND, tool.name)
        if existing is not None and not replace and not same_definition(existing.target, target):
            raise ToolError(
                f"tool {tool.name!r} is already registered by {_describe(existing.target)}; "
                f"cannot register {_describe(target)} under the same name. Pick another "
                f"name with @register_tool(name=...), or pass replace=True to replace it "
                f"on purpose."
            )
        registry.add(TOOL_KIND, tool.name, target, replace=True, tool=tool)
        return target

    if function is not None:
        return decorator(function)
    return decorator


def _known() -> str:
    return ", ".join(sorted(registry.names(TOOL_KIND))) or "none"


def get_tool(name: str) -> Tool:
    """The registered tool called ``name``.

    Raises:
        ToolError: If there is none; the message lists the registered tools.
    """
    entry = registry.find(TOOL_KIND, name)
    if entry is None:
        raise ToolError(
            f"unknown tool {name!r}; registered tools: {_known()}. Register it with "
            f"@register_tool, or import the module that does (import "
            f"aether.extensions.tools registers get_current_time, http_get and read_file)."
        )
    tool = entry.metadata.get("tool")
    if not isinstance(tool, Tool):
        # Registered through the generic registry (`register("tool", name)`): build it once.
        tool = tool_from_function(entry.load(), name=name)
        entry.metadata["tool"] = tool
    return tool


def list_tools() -> list[Tool]:
    """Every registered tool, in registration order."""
    return [get_tool(name) for name in registry.names(TOOL_KIND)]


def _registered_tool_for(function: Callable[..., Any]) -> Tool | None:
    for entry in registry.entries(TOOL_KIND):
        if entry.target is function:
            return get_tool(entry.name)
    return None


def _tool_label(item: object) -> str:
    if _is_toolset(item):
        return repr(item)
    name = getattr(item, "name", None) if isinstance(item, Tool) else None
    return str(name or getattr(item, "__name__", None) or "...")


def _is_toolset(item: object) -> bool:
    return callable(getattr(type(item), "current_tools", None))


def _clash(name: str, sources: Iterable[object]) -> ToolError:
    shown = [repr(source) for source in sources if source is not None]
    advice = f" ({' and '.join(shown)}: give a toolset a prefix=...)" if shown else ""
    return ToolError(
        f"two different tools are named {name!r} in tools=[...]; a model tells tools "
        f"apart by name only, so give one of them another name{advice}"
    )


def resolve_tools(items: Iterable[ToolLike]) -> tuple[Tool, ...]:
    """Turn ``tools=[...]`` items (names, functions, `Tool` and `Toolset` objects) into tools.

    A function that was registered resolves to its registered tool; any other function
    becomes a tool on the spot (built once per function); a toolset gives the tools it
    offers now. Repeats of the same tool are dropped.

    Raises:
        ToolError: If names are unknown (all of them are listed, with the registered
            tools), an item is not a tool, a toolset cannot offer its tools (not
            started), or two different tools share a name.
    """
    if not isinstance(items, list | tuple) and (
        isinstance(items, str | Tool) or callable(items) or _is_toolset(items)
    ):
        one = repr(items) if isinstance(items, str) else _tool_label(items)
        raise ToolError(f"tools= takes a list of tools, not a single one: write tools=[{one}]")
    tools: dict[str, Tool] = {}
    origins: dict[str, object] = {}  # the toolset a tool came from, for error messages
    unknown: list[str] = []
    for item in items:
        if isinstance(item, Tool):
            tool = item
        elif isinstance(item, str):
            if registry.find(TOOL_KIND, item) is None:
                unknown.append(item)
                continue
            tool = get_tool(item)
        elif _is_toolset(item):
            for offered in item.current_tools():  # type: ignore[union-attr]
                seen = tools.get(offered.name)
                if seen is not None and seen is not offered:
                    raise _clash(offered.name, (origins.get(offered.name), item))
                tools[offered.name] = offered
                origins[offered.name] = item
            continue
        elif callable(item):
            tool = _registered_tool_for(item) or cached_tool(item)
        else:
            raise ToolError(
                f"cannot use {item!r} as a tool: give a registered tool's name, a "
                f"function, an aether.Tool or a toolset (aether.mcp.MCPToolset)"
            )
        seen = tools.get(tool.name)
        if seen is not None and seen is not tool:
            raise _clash(tool.name, (origins.get(tool.name),))
        tools[tool.name] = tool
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ToolError(
            f"unknown tool{'s' if len(unknown) > 1 else ''} {names}; registered tools: "
            f"{_known()}. Register it with @register_tool, or import the module that does."
        )
    return tuple(tools.values())
