"""Starting and stopping toolsets: no server process or connection outlives its scope.

Each test here starts processes of its own, so they are few: the bad-server cases use
tiny Python one-liners rather than the MCP test server.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import anyio
import pytest

from aether import Aether
from aether.errors import ToolError
from aether.extensions.llm.fake import FakeProvider
from aether.mcp import MCPConnectionError, MCPToolset
from tests.mcp._support import HTTPServer, call, running, slow_calls_grow, stdio_toolset


async def test_the_client_starts_its_toolsets_and_stops_them_on_an_error(
    served_root: Path,
) -> None:
    files = stdio_toolset(served_root)
    client = Aether(FakeProvider(canned_response="ok"), tools=[files])
    assert files.running is False

    with pytest.raises(RuntimeError, match="the app failed"):
        async with client:
            assert files.running is True
            pid = int((await call(files, "pid")).text)
            assert running(pid)
            raise RuntimeError("the app failed")

    assert files.running is False
    assert not running(pid)
    with pytest.raises(ToolError, match="is not started"):
        files.current_tools()


async def test_cancelling_the_scope_mid_call_stops_the_server(served_root: Path) -> None:
    files = stdio_toolset(served_root)

    with anyio.CancelScope() as scope:
        async with files, anyio.create_task_group() as group:
            pid = int((await call(files, "pid")).text)
            group.start_soon(partial(call, files, "slow", seconds=60))
            await slow_calls_grow(files, {"started": 0, "cancelled": 0}, started=1)
            scope.cancel()

    assert scope.cancelled_caught
    assert files.running is False
    assert not running(pid)


async def test_a_server_that_never_answers_times_out_and_is_stopped() -> None:
    # A process that never answers (the hang of python-sdk #1452); it exits when its
    # stdin closes, so the test does not wait out the SDK's grace period for a kill.
    silent = MCPToolset.stdio(
        sys.executable, args=["-c", "import sys; sys.stdin.read()"], connect_timeout=0.5
    )

    with pytest.raises(MCPConnectionError, match=r"no answer within 0\.5 seconds"):
        async with silent:
            pass

    assert silent.running is False


async def test_a_server_that_exits_at_once_fails_to_start_with_a_hint() -> None:
    broken = MCPToolset.stdio(sys.executable, args=["-c", "raise SystemExit(1)"])

    with pytest.raises(MCPConnectionError) as raised:
        async with broken:
            pass

    message = str(raised.value)
    assert message.startswith("could not connect to the stdio server 'python")
    assert "its stderr says why" in message


async def test_a_missing_command_fails_to_start_naming_it() -> None:
    missing = MCPToolset.stdio("aether-no-such-mcp-server")

    with pytest.raises(MCPConnectionError, match="aether-no-such-mcp-server"):
        async with missing:
            pass


async def test_a_client_leaves_a_toolset_started_by_its_owner_running(
    http_server: HTTPServer,
) -> None:
    async with MCPToolset.http(http_server.url) as files:
        async with Aether(FakeProvider(canned_response="ok"), tools=[files]):
            assert files.running is True
        assert files.running is True  # its owner's `async with` stops it, not the client's
        assert (await call(files, "read_file", path="notes.txt")).is_error is False

    assert files.running is False
