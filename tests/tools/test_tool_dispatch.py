from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from aether import register_tool
from aether.llm.contracts import Tool, ToolCall, ToolResult
from aether.tools import dispatch_tool, tool_content, tool_from_function


class Point(BaseModel):
    x: int
    y: int


@pytest.mark.parametrize(
    ("value", "content"),
    [
        ("plain text", "plain text"),
        (42, "42"),
        ({"id": "c1", "n": [1, 2]}, '{"id":"c1","n":[1,2]}'),
        (Point(x=1, y=2), '{"x":1,"y":2}'),
        ([Point(x=1, y=2)], '[{"x":1,"y":2}]'),
        (None, "null"),
    ],
)
def test_return_values_become_text(value: object, content: str) -> None:
    assert tool_content(value) == content


async def test_sync_tool_result_is_its_return_value() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    result = await dispatch_tool("add", {"a": 17, "b": 25})
    assert result == ToolResult(call_id="call_add", name="add", content="42")


async def test_async_tool_result_keeps_the_call_id() -> None:
    @register_tool
    async def echo(text: str) -> str:
        return text

    call = ToolCall(id="abc", name="echo", arguments={"text": "hi"})
    assert await dispatch_tool(call) == ToolResult(call_id="abc", name="echo", content="hi")


async def test_model_arguments_are_coerced_to_the_signature() -> None:
    @register_tool
    def double(point: Point) -> int:
        assert isinstance(point, Point)
        return point.x * 2

    result = await dispatch_tool("double", {"point": {"x": "21", "y": 0}})
    assert (result.content, result.is_error) == ("42", False)


async def test_exception_becomes_error_content_with_type_and_message() -> None:
    @register_tool
    def divide(a: int, b: int) -> float:
        return a / b

    result = await dispatch_tool("divide", {"a": 1, "b": 0})
    assert result.is_error
    assert result.content == "Error: tool 'divide' raised ZeroDivisionError: division by zero"


async def test_an_exception_whose_message_cannot_be_read_still_becomes_content() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("__str__ fails too")

    @register_tool
    def flaky() -> str:
        raise Unprintable

    result = await dispatch_tool("flaky", {})
    assert result.is_error
    assert result.content == (
        "Error: tool 'flaky' raised Unprintable: (its message could not be read)"
    )


async def test_validation_error_becomes_content_listing_each_problem() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    result = await dispatch_tool("add", {"a": "seventeen", "c": 1})
    assert result.is_error
    assert result.content.startswith("Error: invalid arguments for tool 'add': ")
    assert "a: Input should be a valid integer" in result.content
    assert "(got 'seventeen')" in result.content
    assert "b: required, but not given" in result.content
    assert "c: not a parameter of this tool" in result.content
    assert result.content.endswith("Call the tool again with corrected arguments.")


async def test_malformed_json_becomes_content_with_the_parse_error() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    call = ToolCall(id="c1", name="add", raw_arguments='{"a": 1, "b":')
    result = await dispatch_tool(call)
    assert result.is_error
    assert "are not valid JSON (Expecting value: line 1 column 14" in result.content
    assert '\'{"a": 1, "b":\'' in result.content


async def test_json_that_is_not_an_object_is_reported_as_such() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    result = await dispatch_tool(ToolCall(id="c1", name="add", raw_arguments="[1, 2]"))
    assert "are JSON list, not a JSON object" in result.content


async def test_unknown_tool_becomes_content_listing_the_available_tools() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    result = await dispatch_tool("mul", {"a": 1}, tools=[add])
    assert result.is_error
    assert result.content == (
        "Error: there is no tool named 'mul'. The tools you can call are: add."
    )


async def test_async_tool_past_its_timeout_is_stopped_and_reported() -> None:
    @register_tool(timeout=0.05)
    async def slow() -> str:
        await anyio.sleep_forever()
        return "never"

    with anyio.fail_after(5):
        result = await dispatch_tool("slow", {})
    assert result.is_error
    assert result.content.startswith("Error: tool 'slow' did not finish within 0.05 seconds")


async def test_sync_tool_past_its_timeout_is_abandoned_not_awaited() -> None:
    release = threading.Event()

    @register_tool(timeout=0.05)
    def stuck() -> str:
        release.wait(10)
        return "late"

    try:
        with anyio.fail_after(5):
            result = await dispatch_tool("stuck", {})
    finally:
        release.set()
    assert result.content.startswith("Error: tool 'stuck' did not finish within 0.05 seconds")


async def test_default_timeout_applies_to_tools_without_their_own() -> None:
    async def slow() -> str:
        await anyio.sleep(10)
        return "never"

    with anyio.fail_after(5):
        result = await dispatch_tool("slow", {}, tools=[slow], tool_timeout=0.05)
    assert "did not finish within 0.05 seconds" in result.content


async def test_per_tool_timeout_overrides_the_default() -> None:
    async def quick_enough() -> str:
        await anyio.sleep(0.1)
        return "done"

    tool = tool_from_function(quick_enough, timeout=5)
    result = await dispatch_tool("quick_enough", {}, tools=[tool], tool_timeout=0.01)
    assert (result.content, result.is_error) == ("done", False)


async def test_sync_tool_runs_in_a_worker_thread_without_blocking_the_loop() -> None:
    loop_thread = threading.get_ident()
    ready = threading.Event()
    seen: dict[str, Any] = {}

    @register_tool
    def waits_for_the_loop() -> str:
        seen["thread"] = threading.get_ident()
        return "released" if ready.wait(5) else "blocked"

    async def release_from_the_loop() -> None:
        await anyio.sleep(0.01)
        ready.set()

    async with anyio.create_task_group() as group:
        group.start_soon(release_from_the_loop)
        result = await dispatch_tool("waits_for_the_loop", {})
    assert result.content == "released"
    assert seen["thread"] != loop_thread


async def test_tool_without_handler_is_reported_when_dispatched_directly() -> None:
    result = await dispatch_tool("schema_only", {}, tools=[Tool(name="schema_only")])
    assert result.content == "Error: tool 'schema_only' has no handler to run it"


async def test_cancellation_is_not_turned_into_content() -> None:
    @register_tool
    async def forever() -> str:
        await anyio.sleep_forever()
        return "never"

    with anyio.move_on_after(0.05) as scope:
        await dispatch_tool("forever", {})
    assert scope.cancelled_caught


async def test_sync_tools_run_in_their_own_thread_pool() -> None:
    import anyio.to_thread

    from aether.tools._function_tool import SYNC_TOOL_THREADS, tool_thread_limiter

    seen: list[tuple[int, int]] = []
    limiter = tool_thread_limiter()
    default = anyio.to_thread.current_default_thread_limiter()

    def borrowed() -> str:
        seen.append((limiter.borrowed_tokens, default.borrowed_tokens))
        return "ok"

    tool = tool_from_function(borrowed)
    assert tool.handler is not None
    assert await tool.handler({}) == "ok"
    assert seen == [(1, 0)]
    assert tool_thread_limiter().total_tokens == SYNC_TOOL_THREADS
