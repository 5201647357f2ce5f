"""MCP: one tool call through a real MCP server process, against a local tool."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio

from aether.llm.contracts import ToolCall
from aether.mcp import MCPToolset
from aether.tools import dispatch_tool, tool_from_function
from benchmarks._harness import BACKENDS, Row, cli

TITLE = "MCP: a tool call through an MCP server, against a local tool"
NOTES = """
One call of the no-op tool `noop(x: int)` with `dispatch_tool` (what the tool loop runs
per call): as a local async function, then served by `python -m aether mcp serve
benchmarks/_mcp_tools.py` (the `mcp` package's server, in another process) and reached
by an `MCPToolset` over stdio, then over streamable HTTP on loopback (the same server
with `--http`, uvicorn). A call through MCP checks the arguments against the tool's input
schema, sends a JSON-RPC request, and maps the result back; the server validates and
runs the tool. Wall time (another process does half the work), in one event loop after
a warm-up: 7 rounds that each time every case in turn (so a shared machine's drift
spreads over all of them), medians; the ratio is against the local tool in the same run.
The `Client.call_tool` row is the `mcp` package's own client calling the same server
without Aether: the difference is what `MCPToolset` adds. "toolset start" is `async with
toolset:` (spawning the server process for stdio, the protocol handshake, listing the
tools), median of 3. Import rows are `import X` in a fresh interpreter, timed inside it,
median of 3: `aether.mcp` does not load the `mcp` package; a toolset loads it when it
starts.
"""

TOOLS = Path(__file__).with_name("_mcp_tools.py")
SERVE = [sys.executable, "-m", "aether", "mcp", "serve", str(TOOLS)]
ROOT = Path(__file__).resolve().parents[1]


async def noop(x: int) -> int:
    return x


CALL = ToolCall(id="c1", name="noop", arguments={"x": 1})


@contextmanager
def serving_over_http(tools: Path = TOOLS) -> Iterator[str]:
    """``python -m aether mcp serve TOOLS --http`` on a free loopback port: its MCP URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "aether", "mcp", "serve", str(tools)]
    process = subprocess.Popen([*command, "--http", f"127.0.0.1:{port}"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the benchmark MCP server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


async def per_call_interleaved(
    cases: dict[str, tuple[Callable[[], Awaitable[object]], int]], rounds: int = 7
) -> dict[str, float]:
    """Seconds per call of each case: rounds that run every case in turn, medians.

    Interleaving spreads the drift of a shared machine over every case alike.
    """
    for dispatch, calls in cases.values():
        for _ in range(max(calls // 10, 5)):
            await dispatch()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (dispatch, calls) in cases.items():
            started = time.perf_counter()
            for _ in range(calls):
                await dispatch()
            samples[name].append((time.perf_counter() - started) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


async def start_time(make: Callable[[], MCPToolset]) -> float:
    samples = []
    for _ in range(3):
        toolset = make()
        started = time.perf_counter()
        async with toolset:
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def backend_rows(backend: str, url: str, calls: int) -> list[Row]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    local = tool_from_function(noop)
    stdio = MCPToolset.stdio(sys.executable, args=SERVE[1:], cwd=ROOT)
    http = MCPToolset.http(url)
    raw = Client(StdioServerParameters(command=sys.executable, args=SERVE[1:], cwd=ROOT))

    def call_with(tools: list[object]) -> Callable[[], Awaitable[object]]:
        return lambda: dispatch_tool(CALL, tools=tools)  # type: ignore[arg-type]

    async with stdio, http, raw:
        await raw.list_tools()
        times = await per_call_interleaved(
            {
                "local": (call_with([local]), calls * 10),
                "stdio": (call_with([stdio]), calls),
                "raw": (lambda: raw.call_tool("noop", {"x": 1}), calls),
                "http": (call_with([http]), calls),
            }
        )
    local_time = times["local"]
    rows = [
        Row("local async tool: dispatch_tool", backend, local_time, "s"),
        Row(
            "MCP tool over stdio: dispatch_tool",
            backend,
            times["stdio"],
            "s",
            ratio=times["stdio"] / local_time,
        ),
        Row(
            "MCP tool over stdio: the mcp package's Client.call_tool",
            backend,
            times["raw"],
            "s",
            "the SDK alone: the floor under the row above",
            ratio=times["raw"] / local_time,
        ),
        Row(
            "MCP tool over streamable HTTP: dispatch_tool",
            backend,
            times["http"],
            "s",
            ratio=times["http"] / local_time,
        ),
        Row(
            "toolset start over stdio (spawn, handshake, listing)",
            backend,
            await start_time(lambda: MCPToolset.stdio(sys.executable, args=SERVE[1:], cwd=ROOT)),
            "s",
        ),
        Row(
            "toolset start over streamable HTTP (handshake, listing)",
            backend,
            await start_time(lambda: MCPToolset.http(url)),
            "s",
        ),
    ]
    return rows


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        samples.append(float(done.stdout.strip()))
    return statistics.median(samples)


def run(quick: bool) -> list[Row]:
    calls = 50 if quick else 500
    rows = [
        Row("import aether.mcp", "", import_time("aether.mcp"), "s", "the mcp package not loaded"),
        Row("import mcp", "", import_time("mcp"), "s", "loaded when a toolset starts"),
    ]
    with serving_over_http() as url:
        for backend in BACKENDS:
            rows += anyio.run(backend_rows, backend, url, calls, backend=backend)
    return rows


if __name__ == "__main__":
    cli(run)
