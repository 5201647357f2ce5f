"""The sync client and the ``aether`` command start and stop MCP toolsets too."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from aether.errors import ToolError
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMRequest, LLMResponse, ToolCall
from aether.mcp import MCPToolset
from aether.sync import SyncAether
from tests.mcp._support import FS_SERVER, HTTPServer

ROOT = Path(__file__).parents[2]


def reads_notes(request: LLMRequest) -> LLMResponse | str:
    results = [message for message in request.messages if message.role == "tool"]
    if results:
        return f"The notes say: {results[-1].text.strip()}"
    call = ToolCall(id="c1", name="read_file", arguments={"path": "notes.txt"})
    return LLMResponse(text="", model="fake-model", tool_calls=[call])


def test_with_sync_client_starts_its_toolsets_and_stops_them(http_server: HTTPServer) -> None:
    files = MCPToolset.http(http_server.url)

    with SyncAether(FakeProvider(responder=reads_notes), tools=[files]) as client:
        assert files.running is True
        answer = client.ask("What do the notes say?")

    assert answer == "The notes say: Aether is a middleware onion for LLM calls."
    assert files.running is False


def test_a_sync_client_used_without_with_says_how_to_start_its_toolsets(
    http_server: HTTPServer,
) -> None:
    client = SyncAether(
        FakeProvider(responder=reads_notes), tools=[MCPToolset.http(http_server.url)]
    )
    try:
        with pytest.raises(ToolError, match="is not started"):
            client.ask("What do the notes say?")
    finally:
        client.close()


def test_the_aether_command_calls_tools_of_an_mcp_server(served_root: Path) -> None:
    server = f"{shlex.quote(sys.executable)} {FS_SERVER} {served_root}"

    done = subprocess.run(
        [sys.executable, "-m", "aether", "ask", "--provider", "fake", "--mcp", server, "notes.txt"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )

    assert done.returncode == 0, done.stderr
    # The Fake provider calls the first tool offered, with the prompt as its text argument.
    assert '[calling read_file({"path": "notes.txt"})]' in done.stderr
    assert done.stdout.endswith(
        "The read_file tool returned Aether is a middleware onion for LLM calls.\n.\n"
    )
