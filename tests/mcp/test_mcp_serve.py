"""Aether tools served over MCP, exercised by the `mcp` package's own client."""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import mcp_types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from aether import ImagePart
from aether.mcp import MCPToolset, mcp_server
from aether.tools import dispatch_tool, tool_from_function
from benchmarks.bench_mcp import serving_over_http
from tests.mcp._support import PNG

TOOLS_FILE = Path(__file__).with_name("aether_tools.py")
REPO = Path(__file__).parents[2]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def dot() -> ImagePart:
    """A one-pixel image."""
    return ImagePart(data=PNG)


def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@pytest.fixture(scope="module")
async def served(anyio_backend: str) -> AsyncIterator[Client]:
    """``python -m aether mcp serve tests/mcp/aether_tools.py``, reached by the mcp client."""
    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aether", "mcp", "serve", str(TOOLS_FILE), "--name", "aether-tests"],
        cwd=REPO,
    )
    async with Client(command, cache=None, read_timeout_seconds=30) as client:
        yield client


async def test_the_cli_serves_registered_tools_with_their_schemas(served: Client) -> None:
    listing = await served.list_tools()

    tools = {tool.name: tool for tool in listing.tools}
    assert sorted(tools) == ["add", "divide", "dot", "shout"]
    assert tools["add"].description == "Add two numbers"
    assert tools["add"].input_schema["required"] == ["a", "b"]
    assert tools["shout"].input_schema["properties"]["text"]["description"] == "What to say."
    assert served.server_info is not None
    assert served.server_info.name == "aether-tests"


async def test_served_calls_return_text_images_and_errors(served: Client) -> None:
    added = await served.call_tool("add", {"a": 17, "b": 25})
    image = await served.call_tool("dot", {})
    failed = await served.call_tool("divide", {"a": 1, "b": 0})
    invalid = await served.call_tool("add", {"a": "seventeen"})

    assert added.is_error is False
    assert added.content == [mcp_types.TextContent(type="text", text="42")]
    (block,) = image.content
    assert isinstance(block, mcp_types.ImageContent)
    assert (block.mime_type, base64.b64decode(block.data)) == ("image/png", PNG)
    assert failed.is_error is True
    assert "ZeroDivisionError" in failed.content[0].text  # type: ignore[union-attr]
    assert invalid.is_error is True
    assert "invalid arguments for tool 'add'" in invalid.content[0].text  # type: ignore[union-attr]


async def test_an_in_process_server_offers_the_tools_it_was_given() -> None:
    server = mcp_server([add, dot, tool_from_function(divide, name="div")], name="mine")

    async with Client(server, cache=None) as client:
        listing = await client.list_tools()
        result = await client.call_tool("div", {"a": 1, "b": 4})
        unknown = await client.call_tool("shout", {"text": "hi"})

    assert [tool.name for tool in listing.tools] == ["add", "dot", "div"]
    assert result.content == [mcp_types.TextContent(type="text", text="0.25")]
    assert unknown.is_error is True
    assert "there is no tool named 'shout'" in unknown.content[0].text  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def served_over_http() -> Iterator[str]:
    """``python -m aether mcp serve ... --http 127.0.0.1:PORT``, once it accepts connections."""
    with serving_over_http(TOOLS_FILE) as url:
        yield url


async def test_an_aether_toolset_calls_aether_tools_served_over_http(
    served_over_http: str,
) -> None:
    async with MCPToolset.http(served_over_http, prefix="remote") as remote:
        names = [tool.name for tool in remote.current_tools()]
        result = await dispatch_tool("remote_shout", {"text": "hi"}, tools=[remote])

    assert names == ["remote_add", "remote_shout", "remote_divide", "remote_dot"]
    assert result.content == "HI"


def test_serving_a_target_that_cannot_be_imported_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aether.cli import main

    assert main(["mcp", "serve", "aether_no_such_module"]) == 2
    assert main(["mcp", "serve", f"{TOOLS_FILE}:missing"]) == 2

    errors = capsys.readouterr().err
    assert "cannot import 'aether_no_such_module' to serve its tools" in errors
    assert "has no attribute 'missing' to serve" in errors
