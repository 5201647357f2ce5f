"""Tools that misbehave: sync tools that never return, tools that raise a cancellation.

A timed-out sync tool is abandoned, but its thread runs on: it keeps its slot in the
tools' thread pool until it ends, so hung tools can never add up past the cap. A tool
that raises the cancellation exception itself (a library's leaked cancel scope, a bare
``raise CancelledError()``) was not cancelled by its caller: that is a tool failure like
any other, one error result per call, with a ``tool.error`` event.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from _tool_helpers import asks, call, says

from aether import Aether
from aether.events import TOOL_COMPLETE, TOOL_ERROR, Event
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import ToolCall
from aether.tools import dispatch_tool, tool_from_function
from aether.tools._function_tool import SYNC_TOOL_THREADS, tool_thread_limiter


async def _until(predicate: Any) -> None:
    with anyio.fail_after(10):
        while not predicate():  # noqa: ASYNC110 - the threads end outside the event loop
            await anyio.sleep(0.005)


async def test_timed_out_sync_tools_keep_their_slot_until_their_thread_ends() -> None:
    gate = threading.Event()
    counts = {"running": 0, "peak": 0, "started": 0}
    lock = threading.Lock()

    def blocks() -> str:
        with lock:
            counts["started"] += 1
            counts["running"] += 1
            counts["peak"] = max(counts["peak"], counts["running"])
        try:
            gate.wait(10)
        finally:
            with lock:
                counts["running"] -= 1
        return "late"

    tool = tool_from_function(blocks, timeout=0.02)
    limiter = tool_thread_limiter()
    try:
        for index in range(SYNC_TOOL_THREADS + 8):
            result = await dispatch_tool(ToolCall(id=f"c{index}", name="blocks"), tools=[tool])
            assert "did not finish within" in result.content
        # Every slot taken is a thread still running the tool (one that had not begun
        # when its call timed out never begins); the calls past the cap waited for a
        # slot and timed out waiting.
        await _until(lambda: limiter.borrowed_tokens == counts["running"])
        assert 0 < counts["peak"] <= SYNC_TOOL_THREADS
        assert counts["started"] == counts["running"] <= SYNC_TOOL_THREADS
    finally:
        gate.set()
    # Each slot comes back when its thread ends, not before.
    await _until(lambda: limiter.borrowed_tokens == 0)
    assert counts["running"] == 0
    quick = tool_from_function(lambda: "ok", name="quick")
    assert (await dispatch_tool("quick", {}, tools=[quick])).content == "ok"


def _leaks_a_cancellation() -> Any:
    """A tool that raises a cancellation its caller never asked for."""

    async def flaky_library_call() -> str:
        with anyio.CancelScope() as scope:
            scope.cancel()
            try:
                await anyio.sleep(1)
            except anyio.get_cancelled_exc_class() as cancelled:
                leaked = cancelled  # caught inside its own scope, raised outside it
        raise leaked

    return flaky_library_call


def _events(client: Aether) -> list[Event]:
    seen: list[Event] = []
    client.on(TOOL_ERROR, seen.append)
    client.on(TOOL_COMPLETE, seen.append)
    return seen


async def test_a_tool_raising_its_own_cancellation_is_a_failed_call() -> None:
    fake = FakeProvider(responses=[asks(call("flaky_library_call")), says("It failed.")])
    client = Aether(fake)
    events = _events(client)
    with anyio.fail_after(5):
        answer = await client.ask("go", tools=[_leaks_a_cancellation()])
    assert answer == "It failed."
    (result,) = fake.requests[1].messages[-1:]
    assert (result.role, result.tool_call_id) == ("tool", "c1")
    assert "flaky_library_call" in result.content
    assert "Cancel" in result.content
    assert [event.name for event in events] == [TOOL_ERROR]


async def test_parallel_calls_each_get_a_result_when_one_raises_a_cancellation() -> None:
    async def fine() -> str:
        return "fine"

    calls = (call("flaky_library_call", "c1"), call("fine", "c2"))
    fake = FakeProvider(responses=[asks(*calls), says("One failed.")])
    client = Aether(fake)
    events = _events(client)
    with anyio.fail_after(5):
        answer = await client.ask("go", tools=[_leaks_a_cancellation(), fine])
    assert answer == "One failed."
    results = [message for message in fake.requests[1].messages if message.role == "tool"]
    assert [message.tool_call_id for message in results] == ["c1", "c2"]
    assert results[1].content == "fine"
    assert sorted(event.name for event in events) == [TOOL_COMPLETE, TOOL_ERROR]


async def test_the_callers_own_cancellation_still_cancels() -> None:
    started = anyio.Event()

    async def waits() -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    fake = FakeProvider(responses=[asks(call("waits")), says("unreachable")])
    client = Aether(fake)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:

            async def ask() -> None:
                await client.ask("go", tools=[waits])

            group.start_soon(ask)
            await started.wait()
            group.cancel_scope.cancel()
    assert len(fake.requests) == 1


@pytest.mark.parametrize("parallel", [False, True])
async def test_a_leaked_cancellation_in_a_stream_is_a_failed_call(parallel: bool) -> None:
    async def fine() -> str:
        return "fine"

    calls = [call("flaky_library_call", "c1")] + ([call("fine", "c2")] if parallel else [])
    fake = FakeProvider(responses=[asks(*calls), says("Done.")])
    client = Aether(fake)
    with anyio.fail_after(5):
        deltas = [
            delta async for delta in client.stream_text("go", tools=[_leaks_a_cancellation(), fine])
        ]
    assert "".join(deltas) == "Done."
    results = [message for message in fake.requests[1].messages if message.role == "tool"]
    assert [message.tool_call_id for message in results] == [c.id for c in calls]


_OUTLIVES_ITS_LOOP = """
import sys, threading
import anyio
from aether.tools import dispatch_tool, tool_from_function

gate = threading.Event()
started = threading.Event()

def blocks() -> str:
    started.set()
    gate.wait(10)
    return "late"

async def main() -> None:
    tool = tool_from_function(blocks, timeout=0.05)
    result = await dispatch_tool("blocks", {}, tools=[tool])
    assert "did not finish within" in result.content, result.content
    assert started.is_set()

if sys.argv[1] == "asyncio-stopped":
    import asyncio
    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())  # the loop stops but is never closed
else:
    anyio.run(main, backend=sys.argv[1])
gate.set()  # the abandoned tool's thread ends after its event loop has stopped
print("exited")
"""


@pytest.mark.parametrize("how", ["asyncio-stopped", "asyncio", "trio"])
def test_a_tool_thread_that_outlives_its_event_loop_does_not_hang_the_exit(
    how: str, tmp_path: Any
) -> None:
    # The thread gives its slot back through the event loop; it used to wait for the
    # loop to run that, so with a loop stopped (not closed) the interpreter hung at exit
    # joining the thread. A subprocess, since the hang is at interpreter shutdown.
    import subprocess
    import sys

    script = tmp_path / "outlives.py"
    script.write_text(_OUTLIVES_ITS_LOOP)
    done = subprocess.run(
        [sys.executable, str(script), how], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exited"
