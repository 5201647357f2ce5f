"""Model Context Protocol: tools from MCP servers in the tool loop, and Aether tools served.

::

    from aether import Aether
    from aether.mcp import MCPToolset

    files = MCPToolset.stdio("python", args=["fs_server.py", "./docs"], prefix="fs")
    async with Aether(tools=[files]) as client:        # starts and stops the server
        print(await client.ask("What does README.md say?"))

`MCPToolset.stdio`, `MCPToolset.http` (streamable HTTP) and `MCPToolset.sse` (the legacy
transport) reach a server; ``tools=[toolset]`` offers its tools, mixed with names,
functions and `Tool` objects. The other direction, `mcp_server`, `serve` and
``python -m aether mcp serve module`` offer ``@register_tool`` tools to MCP clients.

Built on the official `mcp` package (``pip install 'aether-llm[mcp]'``), which runs on
asyncio and trio alike; it is imported when a toolset starts, never by ``import aether``.
"""

from aether.mcp._link import MCPConnectionError
from aether.mcp._serve import mcp_server, serve
from aether.mcp._toolset import MCPToolHandler, MCPToolset

__all__ = ["MCPConnectionError", "MCPToolHandler", "MCPToolset", "mcp_server", "serve"]
