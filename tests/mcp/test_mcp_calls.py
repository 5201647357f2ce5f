"""Calling a real MCP server's tools, over stdio and streamable HTTP, on asyncio and trio.

One server process per transport serves the whole module (see conftest.py); the crash
test restarts it and the tests after it run on the new one.
"""

from __future__ import annotations

import json
from functools import partial

import pytest

from aether.llm.content import DocumentPart, ImagePart
from aether.mcp import MCPToolset
from tests.mcp._support import (
    PNG,
    HTTPServer,
    call,
    cancel_mid_call,
    eventually,
    slow_calls,
    slow_calls_grow,
)


@pytest.fixture(scope="module", params=["stdio", "http"])
def files(request: pytest.FixtureRequest, anyio_backend: str) -> MCPToolset:
    # Depends on anyio_backend so that pytest builds it again for each backend.
    toolset: MCPToolset = request.getfixturevalue(f"{request.param}_files")
    return toolset


async def test_lists_the_servers_tools_with_their_schemas(files: MCPToolset) -> None:
    tools = {tool.name: tool for tool in files.current_tools()}

    assert {"read_file", "read_image", "fail", "slow", "add_tool"} <= tools.keys()
    read_file = tools["read_file"]
    assert read_file.description.startswith("Read a text file.")
    assert read_file.parameters["properties"]["path"]["type"] == "string"
    assert read_file.parameters["required"] == ["path"]


async def test_a_tool_name_models_refuse_is_offered_with_underscores(files: MCPToolset) -> None:
    names = [tool.name for tool in files.current_tools()]
    assert "file_size" in names
    assert "file.size" not in names

    result = await call(files, "file_size", path="dot.png")

    assert result.content == str(len(PNG))


async def test_text_result_is_text(files: MCPToolset) -> None:
    result = await call(files, "read_file", path="notes.txt")

    assert result.is_error is False
    assert result.content == "Aether is a middleware onion for LLM calls.\n"


async def test_image_result_is_an_image_part(files: MCPToolset) -> None:
    result = await call(files, "read_image", path="dot.png")

    assert result.is_error is False
    assert isinstance(result.content, tuple)
    (image,) = result.content
    assert isinstance(image, ImagePart)
    assert image.media_type == "image/png"
    assert image.data == PNG


async def test_structured_result_reaches_the_model_as_json(files: MCPToolset) -> None:
    result = await call(files, "list_directory")

    assert json.loads(result.text) == {"names": ["dot.png", "notes.txt", "report.pdf"]}


async def test_embedded_resources_become_text_or_documents(files: MCPToolset) -> None:
    text = await call(files, "read_resource", path="notes.txt")
    pdf = await call(files, "read_resource", path="report.pdf")

    assert text.content == "Aether is a middleware onion for LLM calls.\n"
    assert isinstance(pdf.content, tuple)
    (document,) = pdf.content
    assert isinstance(document, DocumentPart)
    assert (document.media_type, document.name) == ("application/pdf", "report.pdf")
    assert document.data is not None
    assert document.data.startswith(b"%PDF-")


async def test_is_error_result_reaches_the_model_as_an_error(files: MCPToolset) -> None:
    result = await call(files, "fail", message="the disk is on fire")

    assert result.is_error is True
    assert result.content == "Error: Error executing tool fail: the disk is on fire"


async def test_arguments_are_checked_against_the_input_schema(files: MCPToolset) -> None:
    wrong_type = await call(files, "read_file", path=5)
    missing = await call(files, "write_file", path="x.txt")

    assert wrong_type.is_error
    assert missing.is_error
    assert wrong_type.content == (
        "Error: invalid arguments for tool 'read_file': path: 5 is not of type 'string'. "
        "Call the tool again with corrected arguments."
    )
    assert "'content' is a required property" in missing.text


async def test_a_call_past_the_timeout_is_cancelled_on_the_server(files: MCPToolset) -> None:
    before = await slow_calls(files)
    files.timeout = 0.5
    try:
        result = await call(files, "slow", seconds=60)
    finally:
        files.timeout = 60.0

    assert result.is_error is True
    assert "did not answer within 0.5 seconds" in result.text
    await slow_calls_grow(files, before, cancelled=1)


async def test_cancelling_a_call_sends_the_cancellation_to_the_server(
    files: MCPToolset,
) -> None:
    await cancel_mid_call(files, partial(call, files, "slow", seconds=60))


async def test_list_changed_refreshes_the_cached_listing(
    files: MCPToolset, anyio_backend: str
) -> None:
    name = f"echo_{anyio_backend}"
    assert name not in [tool.name for tool in files.current_tools()]

    await call(files, "add_tool", name=name)

    async def listed() -> bool:
        return name in [tool.name for tool in files.current_tools()]

    await eventually(listed)
    assert (await call(files, name, text="hi")).content == f"{name}: hi"


async def test_a_server_that_dies_mid_call_is_a_tool_error_then_reconnects(
    files: MCPToolset, request: pytest.FixtureRequest
) -> None:
    old_pid = (await call(files, "pid")).text

    crashed = await call(files, "crash")
    if files.running and "HTTP" in repr(files):
        http_server: HTTPServer = request.getfixturevalue("http_server")
        http_server.stop()
        http_server.start()  # an HTTP server comes back on its own; a stdio one is restarted
    after = await call(files, "pid")

    assert crashed.is_error is True
    assert "closed the connection during the call" in crashed.text
    assert after.is_error is False
    assert after.text != old_pid
