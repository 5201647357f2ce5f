"""Starting the test MCP server (fs_server.py) and talking to it, for the MCP tests."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from aether.llm.contracts import ToolResult
from aether.mcp import MCPToolset
from aether.tools import dispatch_tool

FS_SERVER = Path(__file__).with_name("fs_server.py")

# A 1x1 PNG and the start of a PDF: real signatures, so media types are sniffed.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108020000009077"
    "53de0000000c4944415408d763f8ffff3f0005fe02fea7d6a4bd0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def make_root(root: Path) -> Path:
    """The folder the server serves: a text file, an image, a PDF."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "notes.txt").write_text("Aether is a middleware onion for LLM calls.\n")
    (root / "dot.png").write_bytes(PNG)
    (root / "report.pdf").write_bytes(PDF)
    return root


def stdio_toolset(root: Path, **options: Any) -> MCPToolset:
    """A toolset that starts fs_server.py over stdio."""
    return MCPToolset.stdio(sys.executable, args=[str(FS_SERVER), str(root)], **options)


async def call(toolset: MCPToolset, tool: str, /, **arguments: Any) -> ToolResult:
    """Run one tool of ``toolset`` exactly as the tool loop would."""
    return await dispatch_tool(tool, arguments, tools=[toolset])


async def slow_calls(toolset: MCPToolset, name: str = "slow_calls") -> dict[str, int]:
    result = await call(toolset, name)
    assert not result.is_error, result.content
    counts: dict[str, int] = json.loads(result.text)
    return counts


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Wait until ``check()`` holds, polling; fail after ``within`` seconds (a bound only)."""
    with anyio.fail_after(within):
        while not await check():  # noqa: ASYNC110 - the state is in another process
            await anyio.sleep(0.02)


async def slow_calls_grow(
    toolset: MCPToolset, before: dict[str, int], *, started: int = 0, cancelled: int = 0
) -> None:
    """Wait until the server has started and cancelled that many more ``slow`` calls."""

    async def grown() -> bool:
        now = await slow_calls(toolset)
        return (
            now["started"] >= before["started"] + started
            and now["cancelled"] >= before["cancelled"] + cancelled
        )

    await eventually(grown)


async def cancel_mid_call(toolset: MCPToolset, run: Callable[[], Awaitable[object]]) -> None:
    """Start ``run`` (which calls ``slow``), cancel it once the server is running the tool,
    then wait until the server reports the call cancelled."""
    before = await slow_calls(toolset)
    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await slow_calls_grow(toolset, before, started=1)
        group.cancel_scope.cancel()
    await slow_calls_grow(toolset, before, cancelled=1)


def running(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie, not yet reaped, counts as existing)."""
    return os.path.exists(f"/proc/{pid}")


class HTTPServer:
    """fs_server.py serving streamable HTTP (or SSE) on a loopback port, in its own process."""

    def __init__(self, root: Path, *, sse: bool = False, legacy: bool = False) -> None:
        self.root = root
        self.sse = sse
        self.legacy = legacy
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{'sse' if self.sse else 'mcp'}"

    def start(self) -> HTTPServer:
        """Start it (on the port it had, after a crash), once it accepts connections."""
        flag = "--sse" if self.sse else "--http"
        command = [sys.executable, str(FS_SERVER), str(self.root), flag]
        if self.port:
            command += ["--port", str(self.port)]
        if self.legacy:
            command.append("--legacy")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=60):
                self.stop()
                raise RuntimeError("the test MCP server did not start within 60 seconds")
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the test MCP server did not start: {line!r}")
        self.port = int(line)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
