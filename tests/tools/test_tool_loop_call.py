from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import anyio
import pytest
from _tool_helpers import asks, call, names, record, says

from aether import Aether, register_tool
from aether.errors import ToolLoopLimitError
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk, Tool, ToolCall
from aether.middleware.tool_loop import ToolLoopMiddleware
from aether.pipeline import CallNext, Pipeline, StreamNext


@pytest.fixture(autouse=True)
def add_tool() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b


async def test_loop_runs_the_tool_and_returns_the_final_text() -> None:
    fake = FakeProvider(responses=[asks(call("add", a=17, b=25)), says("The answer is 42.")])
    answer = await Aether(fake).ask("What is 17 + 25?", tools=["add"])
    assert answer == "The answer is 42."
    second = fake.requests[1].messages
    assert [m.role for m in second] == ["user", "assistant", "tool"]
    assert second[1].tool_calls == (call("add", a=17, b=25),)
    assert (second[2].content, second[2].tool_call_id, second[2].name) == ("42", "c1", "add")


async def test_response_carries_internal_turns_and_summed_tokens() -> None:
    fake = FakeProvider(
        responses=[
            asks(call("add", a=1, b=2), text="Let me add.", tokens=(10, 3)),
            says("3.", tokens=(20, 1)),
        ]
    )
    response = await Aether(fake).complete("1+2?", tools=["add"])
    assert response.text == "3."
    assert (response.input_tokens, response.output_tokens) == (30, 4)
    assert response.tool_messages == (
        Message(role="assistant", content="Let me add.", tool_calls=(call("add", a=1, b=2),)),
        Message(role="tool", content="3", tool_call_id="c1", name="add"),
    )
    assert response.tool_calls == ()


async def test_two_async_tools_run_concurrently() -> None:
    first_started, second_started = anyio.Event(), anyio.Event()

    @register_tool
    async def first() -> str:
        first_started.set()
        await second_started.wait()  # deadlocks unless both run at once
        return "one"

    @register_tool
    async def second() -> str:
        second_started.set()
        await first_started.wait()
        return "two"

    fake = FakeProvider(responses=[asks(call("first", "a"), call("second", "b")), says("ok")])
    with anyio.fail_after(5):
        await Aether(fake).ask("go", tools=["first", "second"])
    assert [m.content for m in fake.requests[1].messages if m.role == "tool"] == ["one", "two"]


async def test_two_sync_tools_run_concurrently_in_threads() -> None:
    barrier = threading.Barrier(2, timeout=5)

    @register_tool
    def left() -> str:
        barrier.wait()  # raises BrokenBarrierError unless both threads are in at once
        return "left"

    @register_tool
    def right() -> str:
        barrier.wait()
        return "right"

    fake = FakeProvider(responses=[asks(call("left", "a"), call("right", "b")), says("ok")])
    await Aether(fake).ask("go", tools=["left", "right"])
    assert [m.content for m in fake.requests[1].messages if m.role == "tool"] == ["left", "right"]


async def test_results_go_back_in_call_order_not_finish_order() -> None:
    @register_tool
    async def slow() -> str:
        await anyio.sleep(0.05)
        return "slow"

    @register_tool
    async def fast() -> str:
        return "fast"

    fake = FakeProvider(responses=[asks(call("slow", "1"), call("fast", "2")), says("ok")])
    await Aether(fake).ask("go", tools=["slow", "fast"])
    tool_turns = [m for m in fake.requests[1].messages if m.role == "tool"]
    assert [(m.tool_call_id, m.content) for m in tool_turns] == [("1", "slow"), ("2", "fast")]


async def test_tool_error_goes_back_to_the_model_as_content() -> None:
    @register_tool
    def explode() -> str:
        raise RuntimeError("the database is down")

    fake = FakeProvider(responses=[asks(call("explode")), says("Sorry, it failed.")])
    answer = await Aether(fake).ask("go", tools=["explode"])
    assert answer == "Sorry, it failed."
    assert fake.requests[1].messages[-1].content == (
        "Error: tool 'explode' raised RuntimeError: the database is down"
    )


async def test_unknown_tool_from_the_model_goes_back_as_content() -> None:
    fake = FakeProvider(responses=[asks(call("multiply", a=2)), says("I can only add.")])
    assert await Aether(fake).ask("2*2?", tools=["add"]) == "I can only add."
    assert fake.requests[1].messages[-1].content == (
        "Error: there is no tool named 'multiply'. The tools you can call are: add."
    )


async def test_malformed_json_goes_back_as_content() -> None:
    bad = ToolCall(id="c1", name="add", raw_arguments="{a: 1}")
    fake = FakeProvider(responses=[asks(bad), says("fixed")])
    await Aether(fake).ask("go", tools=["add"])
    content = fake.requests[1].messages[-1].content
    assert content.startswith("Error: the arguments for tool 'add' are not valid JSON")


async def test_validation_error_is_corrected_on_the_next_iteration() -> None:
    fake = FakeProvider(
        responses=[
            asks(call("add", "c1", a="seventeen", b=25)),
            asks(call("add", "c2", a=17, b=25)),
            says("42"),
        ]
    )
    assert await Aether(fake).ask("17+25?", tools=["add"]) == "42"
    first_result, second_result = (m for m in fake.requests[2].messages if m.role == "tool")
    assert first_result.content.startswith("Error: invalid arguments for tool 'add': a:")
    assert second_result.content == "42"


async def test_iteration_cap_raises_with_the_conversation_so_far() -> None:
    fake = FakeProvider(responses=[asks(call("add", f"c{i}", a=i, b=i)) for i in range(3)])
    pipeline = Pipeline([ToolLoopMiddleware(max_iterations=3)], fake)
    request = Aether(fake).request("loop", tools=["add"])
    with pytest.raises(ToolLoopLimitError) as caught:
        await pipeline.complete(request)
    error = caught.value
    assert error.iterations == 3
    assert len(fake.requests) == 3
    assert [m.role for m in error.messages] == [
        "user",
        *["assistant", "tool"] * 2,
        "assistant",
    ]
    assert error.messages[-1].tool_calls == (call("add", "c2", a=2, b=2),)
    assert "made 3 model calls and the model still asks for tools (add)" in str(error)


async def test_iteration_cap_is_read_from_the_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeProvider(responses=[asks(call("add", a=1, b=1))] * 5)
    client = Aether(fake)
    monkeypatch.setenv("AETHER_MAX_TOOL_ITERATIONS", "2")
    with pytest.raises(ToolLoopLimitError) as caught:
        await client.ask("loop", tools=["add"])
    assert caught.value.iterations == 2
    assert len(fake.requests) == 2


async def test_answer_on_limit_makes_the_last_call_tool_less() -> None:
    fake = FakeProvider(responses=[asks(call("add", a=1, b=1)), says("Final answer.")])
    pipeline = Pipeline([ToolLoopMiddleware(max_iterations=2, on_limit="answer")], fake)
    response = await pipeline.complete(Aether(fake).request("go", tools=["add"]))
    assert response.text == "Final answer."
    assert [r.tool_choice for r in fake.requests] == [None, "none"]


async def test_answer_on_limit_still_raises_if_the_model_insists() -> None:
    fake = FakeProvider(responses=[asks(call("add", a=1, b=1))] * 2)
    pipeline = Pipeline([ToolLoopMiddleware(max_iterations=2, on_limit="answer")], fake)
    with pytest.raises(ToolLoopLimitError):
        await pipeline.complete(Aether(fake).request("go", tools=["add"]))


async def test_required_tool_choice_applies_to_the_first_call_only() -> None:
    fake = FakeProvider(responses=[asks(call("add", a=1, b=1)), says("2")])
    await Aether(fake).ask("1+1", tools=["add"], tool_choice="required")
    assert [r.tool_choice for r in fake.requests] == ["required", "auto"]


async def test_calls_to_handlerless_tools_are_handed_back_to_the_caller() -> None:
    client_side = Tool(name="confirm", description="Ask the user to confirm.")
    fake = FakeProvider(responses=[asks(call("confirm", "c9"))])
    response = await Aether(fake).complete("delete it", tools=[client_side])
    assert response.tool_calls == (call("confirm", "c9"),)
    assert len(fake.requests) == 1


async def test_request_without_tools_passes_through_untouched() -> None:
    inner = says("plain")
    fake = FakeProvider(responses=[inner])
    client = Aether(fake, with_cost_tracking=False)
    assert await client.complete("hi") is inner


class CountingMiddleware:
    """Stands for cost, retry or any layer below the tool loop."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        self.calls.append(len(request.messages))
        return await call_next(request)

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        self.calls.append(len(request.messages))
        async for chunk in call_next(request):
            yield chunk


async def test_every_iteration_passes_through_the_layers_below() -> None:
    below = CountingMiddleware()
    fake = FakeProvider(responses=[asks(call("add", a=1, b=1)), says("2")])
    pipeline = Pipeline([ToolLoopMiddleware(), below], fake)
    await pipeline.complete(Aether(fake).request("1+1", tools=["add"]))
    assert below.calls == [1, 3]


def test_tool_loop_is_the_outermost_layer_of_the_default_stack_after_structured_output() -> None:
    assert Aether(FakeProvider()).pipeline.names[:2] == ["StructuredOutput", "ToolLoop"]


async def test_events_fire_per_iteration_and_around_each_tool() -> None:
    fake = FakeProvider(responses=[asks(call("add", a=1, b=1)), says("2")])
    client = Aether(fake)
    events = record(client)
    await client.ask("1+1", tools=["add"])
    assert names(events) == [
        "request.start",
        "request.complete",
        "tool.start",
        "tool.complete",
        "request.start",
        "request.complete",
    ]
    assert events[3].result.content == "2"  # type: ignore[attr-defined]


async def test_parallel_tools_fire_every_start_in_call_order_before_results() -> None:
    @register_tool
    async def broken() -> str:
        raise ValueError("nope")

    fake = FakeProvider(responses=[asks(call("add", "1", a=1, b=1), call("broken", "2")), says("")])
    client = Aether(fake)
    events = record(client)
    await client.ask("go", tools=["add", "broken"])
    seen = [e for e in events if e.name.startswith("tool.")]
    assert [e.name for e in seen[:2]] == ["tool.start", "tool.start"]
    assert [e.call.id for e in seen[:2]] == ["1", "2"]  # type: ignore[attr-defined]
    finished = {e.call.id: e for e in seen[2:]}  # type: ignore[attr-defined]
    assert finished["1"].name == "tool.complete"
    assert finished["2"].name == "tool.error"
    assert isinstance(finished["2"].error, ValueError)  # type: ignore[attr-defined]
    assert finished["2"].result.is_error  # type: ignore[attr-defined]


def test_invalid_loop_settings_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="max_iterations must be at least 1"):
        ToolLoopMiddleware(max_iterations=0)
    with pytest.raises(ValueError, match="on_limit must be 'raise' or 'answer'"):
        ToolLoopMiddleware(on_limit="ignore")  # type: ignore[arg-type]
