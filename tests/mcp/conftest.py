"""Fixtures for the MCP tests: real server processes, started once per module where safe.

A server process costs about a second to start (Python and the `mcp` package), so the
toolsets that only call tools live for a whole module: ``anyio_backend`` is module-scoped
here, which lets anyio's plugin keep one event loop per backend for the module, and the
toolset fixtures enter ``async with`` once per backend. The HTTP servers do not depend on
the event loop and serve the whole session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aether.mcp import MCPToolset
from tests.mcp._support import HTTPServer, call, make_root, running, stdio_toolset


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
async def stdio_files(served_root: Path, anyio_backend: str) -> AsyncIterator[MCPToolset]:
    """fs_server.py over stdio, for the module; its process must be gone afterwards."""
    async with stdio_toolset(served_root) as toolset:
        pid = int((await call(toolset, "pid")).text)
        yield toolset
        pid = int((await call(toolset, "pid")).text)  # the crash test may have restarted it
    assert not running(pid), "the stdio server outlived its toolset"


@pytest.fixture(scope="session")
def http_server(served_root: Path) -> Iterator[HTTPServer]:
    server = HTTPServer(served_root).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def http_files(http_server: HTTPServer, anyio_backend: str) -> AsyncIterator[MCPToolset]:
    async with MCPToolset.http(http_server.url) as toolset:
        yield toolset
