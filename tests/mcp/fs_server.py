"""A small filesystem-style MCP server, written with the `mcp` package, for the tests.

    python tests/mcp/fs_server.py ROOT              serve over stdio
    python tests/mcp/fs_server.py ROOT --http       serve streamable HTTP on a loopback
                                                    port (printed on stdout)
    python tests/mcp/fs_server.py ROOT --sse        the same, legacy SSE transport
    ... --legacy                                    refuse server/discover, as servers
                                                    before the 2026-07-28 revision do

Its tools read and write files under ROOT, and a few exist only to exercise a client:
one returns an image, one fails (``isError``), one is slow (and counts how often it was
cancelled), one kills the server mid-call, one changes the tool list.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND

server = MCPServer("aether-test-fs", instructions="Files under one folder.", log_level="WARNING")
ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
_slow_calls = {"started": 0, "cancelled": 0}


def _inside(path: str) -> Path:
    target = (ROOT / path).resolve()
    if not target.is_relative_to(ROOT):
        raise ToolError(f"{path!r} is outside the served folder")
    return target


@server.tool()
def read_file(path: str) -> str:
    """Read a text file.

    Args:
        path: The file's path, relative to the served folder.
    """
    target = _inside(path)
    if not target.is_file():
        raise ToolError(f"no file named {path!r}")
    return target.read_text()


@server.tool()
def write_file(path: str, content: str) -> str:
    """Write a text file, replacing it if it exists."""
    _inside(path).write_text(content)
    return f"wrote {len(content)} characters to {path}"


@server.tool()
def list_directory(path: str = ".") -> dict[str, list[str]]:
    """The names in a folder (structured output)."""
    return {"names": sorted(item.name for item in _inside(path).iterdir())}


@server.tool()
def read_image(path: str) -> Image:
    """An image file, as an image."""
    return Image(path=_inside(path))


@server.tool()
def read_resource(path: str) -> types.EmbeddedResource:
    """A file as an embedded resource: text files as text, others as a blob."""
    target = _inside(path)
    contents: types.TextResourceContents | types.BlobResourceContents
    if target.suffix == ".txt":
        text = target.read_text()
        uri = target.as_uri()
        contents = types.TextResourceContents(uri=uri, text=text, mime_type="text/plain")
    else:
        blob = base64.b64encode(target.read_bytes()).decode()
        contents = types.BlobResourceContents(
            uri=target.as_uri(), blob=blob, mime_type="application/pdf"
        )
    return types.EmbeddedResource(type="resource", resource=contents)


@server.tool()
def fail(message: str) -> str:
    """Always fails with ``message``."""
    raise ToolError(message)


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer; started and cancelled calls are counted."""
    _slow_calls["started"] += 1
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        _slow_calls["cancelled"] += 1
        raise
    return f"slept {seconds}"


@server.tool()
def slow_calls() -> dict[str, int]:
    """How many calls of ``slow`` started, and how many the client cancelled."""
    return dict(_slow_calls)


@server.tool(name="file.size")
def file_size(path: str) -> int:
    """A file's size in bytes (a tool name with a dot, which model APIs refuse)."""
    return _inside(path).stat().st_size


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Kill the server in the middle of the call."""
    os._exit(3)


@server.tool()
def protocol_version(ctx: Context) -> str:
    """The protocol revision this connection speaks."""
    return ctx.request_context.protocol_version


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Add a tool called ``name`` (it echoes its text) and announce the new list."""

    def echo(text: str) -> str:
        return f"{name}: {text}"

    server.add_tool(echo, name=name, description=f"Echo, as {name}")
    await ctx.notify_tools_changed()  # 2026-07-28 clients, on their listen stream
    session = ctx.request_context.session
    if getattr(session, "protocol_version", "") < "2026":
        await session.send_tool_list_changed()  # earlier clients, unsolicited
    return f"added {name}"


async def _refuse_discover(ctx: Any, call_next: Any) -> Any:
    # --legacy: answer like a server from before 2026-07-28, which has no server/discover.
    if ctx.method == "server/discover":
        raise MCPError(code=METHOD_NOT_FOUND, message="Method not found")
    return await call_next(ctx)


def _loopback_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog until uvicorn serves them
    return sock


async def _serve_http(sse: bool, port: int) -> None:
    import uvicorn

    app = server.sse_app() if sse else server.streamable_http_app()
    sock = _loopback_socket(port)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    if "--legacy" in sys.argv:
        server.middleware.append(_refuse_discover)
    if "--http" in sys.argv or "--sse" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
        anyio.run(_serve_http, "--sse" in sys.argv, port)
    else:
        server.run("stdio")
