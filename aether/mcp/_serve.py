"""Serving Aether tools to MCP clients: `mcp_server`, `serve`, ``aether mcp serve``.

::

    aether mcp serve myapp.tools                      # every tool myapp.tools registers
    aether mcp serve myapp.tools:public               # the tools listed in myapp.tools.public
    python -m aether mcp serve tools.py --http 127.0.0.1:8000

A served tool runs exactly as the tool loop runs it (`run_tool_call`): its arguments are
checked against its signature, a failure becomes an ``isError`` result whose text tells
the model what went wrong, and parts it returns (an `ImagePart`, say) become MCP image,
audio or resource blocks. A client's cancellation cancels the tool.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from aether.errors import ConfigurationError
from aether.llm.contracts import Tool, ToolCall
from aether.mcp._results import blocks_from_content
from aether.tools._dispatch import run_tool_call
from aether.tools.registry import ToolLike, list_tools, resolve_tools

if TYPE_CHECKING:
    import mcp_types
    from mcp.server import Server, ServerRequestContext

__all__ = ["add_command", "mcp_server", "serve"]


def _tools(tools: Iterable[ToolLike] | None) -> tuple[Tool, ...]:
    # Read at each request: tools registered after the server was built are served too.
    return tuple(list_tools()) if tools is None else resolve_tools(tools)


def mcp_server(
    tools: Iterable[ToolLike] | None = None,
    *,
    name: str = "aether",
    tool_timeout: float | None = None,
) -> Server[Any]:
    """An MCP server (the `mcp` package's low-level ``Server``) offering Aether tools.

    Run it over any transport the `mcp` package has, or mount its
    ``streamable_http_app()`` in your own ASGI app.

    Args:
        tools: The tools to offer (names, functions, `Tool` objects); every registered
            tool, as registered at each request, by default.
        name: The server name clients see.
        tool_timeout: Seconds a tool may run when it has no timeout of its own.
    """
    import mcp_types
    from mcp.server import Server

    if tools is not None:
        tools = list(tools)
        resolve_tools(tools)  # unknown names fail now, not at the first request

    async def list_tools_handler(
        ctx: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(
            tools=[
                mcp_types.Tool(name=t.name, description=t.description, input_schema=t.parameters)
                for t in _tools(tools)
            ]
        )

    async def call_tool_handler(
        ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        offered = {tool.name: tool for tool in _tools(tools)}
        call = ToolCall(
            id=str(ctx.request_id or params.name),
            name=params.name,
            arguments=dict(params.arguments or {}),
        )
        outcome = await run_tool_call(
            call, offered.get(params.name), available=list(offered), tool_timeout=tool_timeout
        )
        return mcp_types.CallToolResult(
            content=blocks_from_content(outcome.result.content),
            is_error=outcome.result.is_error,
        )

    from aether import __version__

    return Server(
        name,
        version=__version__,
        on_list_tools=list_tools_handler,
        on_call_tool=call_tool_handler,
    )


async def serve(
    tools: Iterable[ToolLike] | None = None,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str = "aether",
    tool_timeout: float | None = None,
) -> None:
    """Serve Aether tools over MCP until the client goes away (stdio) or forever (HTTP).

    Args:
        tools: The tools to offer; every registered tool by default.
        transport: ``"stdio"`` (the client started this process; asyncio or trio) or
            ``"http"`` (streamable HTTP at ``http://host:port/mcp``, with uvicorn, on
            asyncio only).
        host: The address to listen on, for HTTP; loopback by default.
        port: The port to listen on, for HTTP.
        name: The server name clients see.
        tool_timeout: Seconds a tool may run when it has no timeout of its own.
    """
    server = mcp_server(tools, name=name, tool_timeout=tool_timeout)
    if transport == "stdio":
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
        return
    import uvicorn

    config = uvicorn.Config(
        server.streamable_http_app(host=host), host=host, port=port, log_level="warning"
    )
    await uvicorn.Server(config).serve()


def _load(target: str) -> Iterable[ToolLike] | None:
    """Import ``module``, ``module:attribute`` or ``path/to/file.py[:attribute]``.

    Raises:
        ConfigurationError: If it cannot be imported, or has no such attribute.
    """
    location, _, attribute = target.partition(":")
    try:
        if location.endswith(".py") or Path(location).is_file():
            path = Path(location).resolve()
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{location!r} is not a Python file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` does: your modules import
            module = importlib.import_module(location)
    except (ImportError, OSError) as error:
        raise ConfigurationError(
            f"cannot import {location!r} to serve its tools: {error}"
        ) from None
    if not attribute:
        return None  # importing the module registered its tools
    value = getattr(module, attribute, None)
    if value is None:
        raise ConfigurationError(f"{location!r} has no attribute {attribute!r} to serve")
    if isinstance(value, Tool | str) or callable(value):
        return [value]
    return list(value)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise argparse.ArgumentTypeError(f"give HOST:PORT, such as 127.0.0.1:8000, not {text!r}")
    return host or "127.0.0.1", int(port)


def _serve_command(arguments: argparse.Namespace) -> int:
    tools = _load(arguments.target)
    options: dict[str, Any] = {"name": arguments.name, "tool_timeout": arguments.tool_timeout}
    if arguments.http is not None:
        host, port = arguments.http
        options.update(transport="http", host=host, port=port)
    anyio.run(lambda: serve(tools, **options))
    return 0


def add_command(commands: Any) -> None:
    """Add ``mcp serve`` to a command line's subcommands (``parser.add_subparsers()``)."""
    group = commands.add_parser(
        "mcp",
        help="serve Aether tools to MCP clients",
        description="Model Context Protocol: serve Aether tools to MCP clients.",
    )
    subcommands = group.add_subparsers(dest="mcp_command", required=True, metavar="COMMAND")
    command = subcommands.add_parser(
        "serve",
        help="serve registered tools over MCP (stdio by default)",
        description="Import TARGET (module, module:attribute or file.py[:attribute]) and "
        "serve the tools it registers with @register_tool, or the tools listed in the "
        "attribute, over stdio (or streamable HTTP with --http).",
    )
    command.add_argument("target", help="module, module:attribute or path/to/file.py")
    command.add_argument(
        "--http",
        type=_address,
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio",
    )
    command.add_argument("--name", default="aether", help="the server name clients see")
    command.add_argument(
        "--tool-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds a tool may run when it has no timeout of its own",
    )
    command.set_defaults(run=_serve_command)
