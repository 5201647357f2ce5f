from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from _tool_helpers import asks, call, names, record, says

from aether import Aether, register_tool
from aether.errors import ServerError, ToolLoopLimitError
from aether.events import EventBus, StreamComplete, StreamError
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.middleware.events import EventsMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware
from aether.pipeline import Pipeline


@pytest.fixture(autouse=True)
def add_tool() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b


def scripted() -> FakeProvider:
    return FakeProvider(
        responses=[
            asks(call("add", a=17, b=25), text="Let me add those.", tokens=(5, 4)),
            says("The answer is 42.", tokens=(12, 5)),
        ]
    )


async def collect(client: Aether, **options: object) -> list[StreamChunk]:
    return [chunk async for chunk in client.stream("What's 17+25?", **options)]  # type: ignore[arg-type]


async def test_stream_text_is_one_logical_stream_with_text_before_and_after() -> None:
    client = Aether(scripted())
    deltas = [delta async for delta in client.stream_text("What's 17+25?", tools=["add"])]
    assert "".join(deltas) == "Let me add those.The answer is 42."
    assert deltas[0] == "Let "


async def test_stream_yields_text_then_tool_call_then_result_then_text_then_one_final() -> None:
    chunks = await collect(Aether(scripted()), tools=["add"])
    kinds = [(c.kind, c.is_final) for c in chunks]
    assert kinds == [
        *[("text", False)] * 4,
        ("tool_call", False),
        ("tool_result", False),
        *[("text", False)] * 4,
        ("text", True),
    ]
    assert chunks[4].tool_call == call("add", a=17, b=25)
    assert chunks[5].tool_result is not None
    assert (chunks[5].tool_result.content, chunks[5].tool_result.call_id) == ("42", "c1")


async def test_final_chunk_sums_tokens_over_iterations_and_has_no_tool_calls() -> None:
    final = (await collect(Aether(scripted()), tools=["add"]))[-1]
    assert (final.input_tokens, final.output_tokens) == (17, 9)
    assert final.tool_calls == ()
    assert final.finish_reason == "stop"


async def test_second_iteration_sees_the_streamed_text_and_the_tool_result() -> None:
    fake = scripted()
    await collect(Aether(fake), tools=["add"])
    assistant, tool = fake.requests[1].messages[1:]
    assert (assistant.content, assistant.tool_calls) == (
        "Let me add those.",
        (call("add", a=17, b=25),),
    )
    assert (tool.role, tool.content) == ("tool", "42")


async def test_stream_events_fire_once_with_tool_events_in_between() -> None:
    client = Aether(scripted())
    events = record(client)
    await collect(client, tools=["add"])
    assert names(events) == [
        "stream.start",
        "request.start",
        *["stream.chunk"] * 4,
        "request.complete",
        "tool.start",
        "tool.complete",
        "request.start",
        *["stream.chunk"] * 4,
        "request.complete",
        "stream.complete",
    ]
    complete = events[-1]
    assert isinstance(complete, StreamComplete)
    assert (complete.chunks, complete.input_tokens, complete.output_tokens) == (8, 17, 9)
    assert complete.finish_reason == "stop"


async def test_stream_chunk_indexes_run_on_across_iterations() -> None:
    fake = scripted()
    fake.add_responses(says("Fine."))
    client = Aether(fake)
    indexes: list[int] = []
    client.on("stream.chunk", lambda event: indexes.append(event.index))
    await collect(client, tools=["add"])
    await collect(client)
    assert indexes == [*range(8), 0]


async def test_stream_error_fires_once_when_an_iteration_fails() -> None:
    fake = FakeProvider(
        responses=[asks(call("add", a=1, b=1), text="Adding."), StreamFault(ServerError("boom"), 1)]
    )
    client = Aether(fake)
    events = record(client)
    with pytest.raises(ServerError):
        await collect(client, tools=["add"])
    lifecycle = [e.name for e in events if e.name in ("stream.start", "stream.error")]
    assert lifecycle == ["stream.start", "stream.error"]
    error = events[-1]
    assert isinstance(error, StreamError)
    assert error.chunks == 2
    assert "stream.complete" not in names(events)


async def test_iteration_cap_in_a_stream_raises_after_the_text_already_sent() -> None:
    fake = FakeProvider(
        responses=[asks(call("add", f"c{i}", a=1, b=1), text="Again.") for i in range(2)]
    )
    pipeline = Pipeline([ToolLoopMiddleware(max_iterations=2)], fake)
    seen: list[StreamChunk] = []

    async def consume() -> None:
        async for chunk in pipeline.stream(Aether(fake).request("go", tools=["add"])):
            seen.append(chunk)

    with pytest.raises(ToolLoopLimitError) as caught:
        await consume()
    assert [c.kind for c in seen] == ["text", "tool_call", "tool_result", "text"]
    assert caught.value.iterations == 2


@pytest.mark.anyio
@pytest.mark.parametrize("stop_at", ["text", "tool_call", "tool_result"])
async def test_closing_the_stream_early_closes_the_provider_stream(stop_at: str) -> None:
    fake = scripted()
    client = Aether(fake)
    kinds = []
    async with contextlib.aclosing(client.stream("go", tools=["add"])) as stream:
        async for chunk in stream:
            kinds.append(chunk.kind)
            if chunk.kind == stop_at:
                break
    assert kinds[-1] == stop_at
    assert fake.open_streams == 0


async def test_stream_without_tools_is_the_inner_stream_itself() -> None:
    fake = FakeProvider(canned_response="hello there")
    loop = ToolLoopMiddleware()
    request = Aether(fake).request("hi")
    inner = fake.stream(request)
    assert loop.stream(request, lambda _: inner) is inner
    await inner.aclose()


async def test_stream_without_tools_keeps_per_stream_events() -> None:
    client = Aether(FakeProvider(canned_response="hello there"))
    events = record(client)
    await collect(client)
    assert names(events) == [
        "stream.start",
        "request.start",
        "stream.chunk",
        "stream.chunk",
        "request.complete",
        "stream.complete",
    ]


class FinalChunkWithText:
    """A provider whose final chunk carries text, as some vendors' last event does."""

    name = "final-text"

    def __init__(self) -> None:
        self.turn = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise NotImplementedError

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        self.turn += 1
        if self.turn == 1:
            yield StreamChunk(text="Let me ")
            yield StreamChunk(
                text="add.", finish_reason="tool_calls", tool_calls=(call("add", a=1, b=2),)
            )
        else:
            yield StreamChunk(text="3.", finish_reason="stop")


async def test_text_on_a_final_chunk_is_not_lost() -> None:
    chunks = await collect(
        Aether(FinalChunkWithText(), stack=[ToolLoopMiddleware()]), tools=["add"]
    )
    assert "".join(c.text for c in chunks) == "Let me add.3."
    assert [(c.kind, c.text, c.is_final) for c in chunks] == [
        ("text", "Let me ", False),
        ("text", "add.", False),
        ("tool_call", "", False),
        ("tool_result", "", False),
        ("text", "3.", False),
        ("text", "", True),
    ]


async def test_a_pipeline_without_the_client_emits_request_events_per_iteration() -> None:
    bus = EventBus()
    starts: list[object] = []
    bus.on("request.start", starts.append)
    bus.on("stream.start", starts.append)
    fake = scripted()
    pipeline = Pipeline([ToolLoopMiddleware(), EventsMiddleware(bus)], fake)
    async for _ in pipeline.stream(Aether(fake).request("go", tools=["add"])):
        pass
    assert [event.name for event in starts] == ["request.start", "request.start"]  # type: ignore[attr-defined]
