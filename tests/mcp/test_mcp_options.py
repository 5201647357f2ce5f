"""Toolset options (prefix, allow, deny), the legacy SSE transport, and secrets kept out.

Connecting to a running HTTP server is cheap, so each test here opens its own toolset
against the module's servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aether.errors import ConfigurationError, ToolError
from aether.llm.content import ImagePart
from aether.llm.contracts import Tool
from aether.mcp import MCPToolset
from aether.tools import register_tool, resolve_tools
from tests.mcp._support import HTTPServer, call


@pytest.fixture(scope="module")
def sse_server(served_root: Path) -> Iterator[HTTPServer]:
    server = HTTPServer(served_root, sse=True).start()
    yield server
    server.stop()


def names(toolset: MCPToolset) -> list[str]:
    return [tool.name for tool in toolset.current_tools()]


async def test_prefix_goes_before_every_name_and_calls_still_reach_the_tool(
    http_server: HTTPServer,
) -> None:
    async with MCPToolset.http(http_server.url, prefix="fs") as files:
        assert set(names(files)) >= {"fs_read_file", "fs_file_size", "fs_add_tool"}
        assert all(name.startswith("fs_") for name in names(files))
        result = await call(files, "fs_read_file", path="notes.txt")

    assert result.text.startswith("Aether is a middleware onion")


async def test_allow_and_deny_choose_the_tools_offered(http_server: HTTPServer) -> None:
    async with MCPToolset.http(http_server.url, allow=["read_*", "fail"], deny=["*image"]) as files:
        assert names(files) == ["read_file", "read_resource", "fail"]
        refused = await call(files, "crash")  # not offered, so never sent

    assert refused.is_error is True
    assert "there is no tool named 'crash'" in refused.text


async def test_an_allow_pattern_matching_nothing_is_logged(
    http_server: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with MCPToolset.http(http_server.url, allow=["read_file", "raed_image"]) as files:
        assert names(files) == ["read_file"]

    assert "allow=['raed_image'] matches none of the server's tools" in caplog.text


async def test_two_toolsets_with_the_same_names_need_a_prefix(http_server: HTTPServer) -> None:
    async with (
        MCPToolset.http(http_server.url) as first,
        MCPToolset.http(http_server.url) as second,
    ):
        with pytest.raises(ToolError, match=r"named 'read_file'.*give a toolset a prefix"):
            resolve_tools([first, second])


async def test_a_toolset_mixes_with_names_functions_and_tools(http_server: HTTPServer) -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    def shout(text: str) -> str:
        return text.upper()

    schema_only = Tool(name="lookup", description="Looked up by the caller")

    async with MCPToolset.http(http_server.url, allow=["read_file"], prefix="fs") as files:
        tools = resolve_tools(["add", files, shout, schema_only])

    assert [tool.name for tool in tools] == ["add", "fs_read_file", "shout", "lookup"]


async def test_the_legacy_sse_transport_lists_and_calls(sse_server: HTTPServer) -> None:
    async with MCPToolset.sse(sse_server.url) as files:
        assert "read_image" in names(files)
        text = await call(files, "read_file", path="notes.txt")
        image = await call(files, "read_image", path="dot.png")

    assert text.text.startswith("Aether is a middleware onion")
    assert isinstance(image.content, tuple)
    assert isinstance(image.content[0], ImagePart)


async def test_credentials_stay_out_of_reprs_and_errors(http_server: HTTPServer) -> None:
    secrets = ["hunter2pass", "sk-query-secret", "sk-header-secret", "sk-bearer-secret"]
    base = f"http://user:hunter2pass@127.0.0.1:{http_server.port}"
    options = {"headers": {"X-Api-Key": "sk-header-secret"}, "auth": "sk-bearer-secret"}
    refused = MCPToolset.http("http://127.0.0.1:9/mcp?key=sk-query-secret", **options)
    not_found = MCPToolset.sse(f"{base}/nowhere?key=sk-query-secret", **options)
    stdio = MCPToolset.stdio("server", args=["--token", "sk-arg-secret"], env={"K": "sk-env-1234"})

    shown = [repr(refused), repr(not_found), repr(stdio)]
    for toolset in (refused, not_found):
        with pytest.raises(ToolError) as raised:
            async with toolset:
                pass
        shown.append(str(raised.value))

    assert "404 Not Found" in shown[-1]  # httpx quotes the URL it requested: scrubbed
    assert f"127.0.0.1:{http_server.port}/nowhere" in shown[-1]
    for secret in [*secrets, "sk-arg-secret", "sk-env-1234"]:
        assert secret not in " ".join(shown)


def test_bad_options_fail_when_the_toolset_is_built() -> None:
    with pytest.raises(ConfigurationError) as raised:
        MCPToolset.stdio("server", prefix="my tools", timeout=0, connect_timeout=-1)
    assert len(raised.value.problems) == 3

    with pytest.raises(ConfigurationError, match=r"args= takes a list"):
        MCPToolset.stdio("python", args="server.py")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"must start with http:// or https://"):
        MCPToolset.http("localhost:8000/mcp")
    with pytest.raises(ConfigurationError, match=r"allow= takes a list"):
        MCPToolset.http("http://127.0.0.1/mcp", allow="read_file")  # type: ignore[arg-type]


def test_a_toolset_not_started_says_how_to_start_it() -> None:
    toolset = MCPToolset.stdio("server")

    with pytest.raises(ToolError, match=r"is not started: use it inside `async with toolset:`"):
        resolve_tools([toolset])
