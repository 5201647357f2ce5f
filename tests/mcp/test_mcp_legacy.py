"""A server from before the 2026-07-28 revision: the initialize handshake, and list
changes announced without a subscription."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aether.mcp import MCPToolset
from tests.mcp._support import HTTPServer, call, eventually

# On trio the mcp SDK's streamable-HTTP transport leaves the async generators of its
# handshake-era GET stream (httpx2's SSE reader) to the garbage collector when a session
# ends; trio reports each as a ResourceWarning. Only these generators are let through.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object "
    r"(EventSource|HTTP11ConnectionByteStream|Response)\.:"
    r"pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(scope="module")
def legacy_server(served_root: Path) -> Iterator[HTTPServer]:
    server = HTTPServer(served_root, legacy=True).start()
    yield server
    server.stop()


async def test_a_legacy_server_is_reached_with_the_handshake(legacy_server: HTTPServer) -> None:
    async with MCPToolset.http(legacy_server.url) as files:
        version = await call(files, "protocol_version")
        text = await call(files, "read_file", path="notes.txt")

    assert version.text < "2026"  # a handshake-era revision, such as 2025-11-25
    assert text.text.startswith("Aether is a middleware onion")


async def test_a_legacy_servers_list_changed_notification_refreshes_the_listing(
    legacy_server: HTTPServer, anyio_backend: str
) -> None:
    name = f"legacy_echo_{anyio_backend}"
    async with MCPToolset.http(legacy_server.url) as files:
        await call(files, "add_tool", name=name)

        async def listed() -> bool:
            return name in [tool.name for tool in files.current_tools()]

        await eventually(listed)
        echoed = await call(files, name, text="hi")

    assert echoed.text == f"{name}: hi"
