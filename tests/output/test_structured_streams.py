"""Structured output in streams, on the Fake provider: partial objects, re-asks, clean-up."""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

import anyio
import pytest

from aether import Aether, OutputRefusedError, OutputValidationError
from aether.events import REQUEST_COMPLETE, STREAM_COMPLETE, Event
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk, ToolCall
from tests.output._models import Invoice
from tests.output.test_partial_json import _compatible

VALID = '{"customer": "Ada", "items": [{"name": "widget", "quantity": 3, "unit_price": 2.5}]}'
INVALID = '{"customer": "Ada", "items": [{"name": "widget", "quantity": 0, "unit_price": 2.5}]}'


async def _collect(stream: Any) -> list[StreamChunk[Any]]:
    async with contextlib.aclosing(stream) as chunks:
        return [chunk async for chunk in chunks]


async def test_text_chunks_carry_the_object_so_far_and_the_final_chunk_the_output() -> None:
    fake = FakeProvider(responses=[VALID])
    chunks = await _collect(Aether(fake).stream("Bill Ada", output_type=Invoice))
    *texts, final = chunks
    assert "".join(chunk.text for chunk in texts) == VALID
    assert final.output == Invoice.model_validate_json(VALID)
    assert final.output_mode == "native"
    whole = json.loads(VALID)
    partials = [chunk.partial for chunk in texts]
    assert all(_compatible(partial, whole) for partial in partials if partial is not None)
    assert partials[0] == {}
    assert partials[-1] == whole
    assert {"customer": "Ada"} in partials  # it grows as the text arrives


async def test_a_wrapped_type_streams_its_unwrapped_value() -> None:
    fake = FakeProvider(responses=['{"result": ["a", "bc", "d"]}'])
    chunks = await _collect(Aether(fake).stream("x", output_type=list[str]))
    assert [chunk.partial for chunk in chunks[:-1]] == [None, ["a"], ["a", "bc"], ["a", "bc", "d"]]
    assert chunks[-1].output == ["a", "bc", "d"]


async def test_an_invalid_stream_is_asked_again_and_starts_afresh() -> None:
    fake = FakeProvider(responses=[INVALID, VALID])
    client = Aether(fake)
    completed: list[Event] = []
    client.on(REQUEST_COMPLETE, completed.append)
    streams: list[Event] = []
    client.on(STREAM_COMPLETE, streams.append)
    chunks = await _collect(client.stream("Bill Ada", output_type=Invoice))
    kinds = [chunk.kind for chunk in chunks]
    retry = kinds.index("output_retry")
    assert kinds.count("output_retry") == 1
    before, after = chunks[:retry], chunks[retry + 1 :]
    assert "".join(chunk.text for chunk in before) == INVALID
    assert "".join(chunk.text for chunk in after) == VALID
    assert after[0].partial == {}  # the partial object starts again
    assert chunks[-1].output is not None
    assert chunks[-1].output.items[0].quantity == 3
    assert chunks[-1].tokens is not None
    assert chunks[-1].tokens.output > 0
    assert len(completed) == 2  # one request.complete per attempt
    assert len(streams) == 1  # one logical stream
    resent = fake.requests[1].messages
    assert resent[-2] == Message(role="assistant", content=INVALID)
    assert "items.0.quantity" in resent[-1].text


async def test_stream_text_shows_every_attempt_in_order() -> None:
    fake = FakeProvider(responses=["nope", VALID])
    deltas = [delta async for delta in Aether(fake).stream_text("x", output_type=Invoice)]
    assert "".join(deltas) == "nope" + VALID


async def test_an_always_invalid_stream_fails_with_every_attempt() -> None:
    fake = FakeProvider(responses=[INVALID, INVALID])
    with pytest.raises(OutputValidationError) as caught:
        await _collect(Aether(fake).stream("x", output_type=Invoice, output_retries=1))
    assert [attempt.text for attempt in caught.value.attempts] == [INVALID, INVALID]
    assert fake.open_streams == 0


async def test_a_refused_stream_raises_the_refusal() -> None:
    refusal = LLMResponse(text="I can't do that.", model="m", finish_reason="content_filter")
    fake = FakeProvider(responses=[refusal, VALID])
    with pytest.raises(OutputRefusedError, match="refused") as caught:
        await _collect(Aether(fake).stream("x", output_type=Invoice))
    assert caught.value.refusal == "I can't do that."
    assert len(fake.requests) == 1


async def test_a_stream_cancelled_during_a_reask_releases_everything_and_stores_nothing() -> None:
    asked_again = anyio.Event()
    fake: FakeProvider

    async def responder(request: LLMRequest) -> str:
        if len(fake.requests) == 1:
            return INVALID
        asked_again.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    fake = FakeProvider(responder=responder)
    session = Aether(fake).session("streamed")

    async def consume() -> None:
        await _collect(session.stream("Bill Ada", output_type=Invoice))

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        await asked_again.wait()
        group.cancel_scope.cancel()
    assert fake.open_streams == 0
    assert await session.history() == []


async def test_a_session_stream_stores_the_json_of_the_valid_attempt_only() -> None:
    session = Aether(FakeProvider(responses=[INVALID, VALID])).session("s")
    chunks = await _collect(session.stream("Bill Ada", output_type=Invoice))
    assert chunks[-1].output is not None
    assert await session.history() == [
        Message(role="user", content="Bill Ada"),
        Message(role="assistant", content=VALID),
    ]


async def test_a_stream_reasked_after_tools_sends_the_tool_turns_back() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    call = ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})
    fake = FakeProvider(
        responses=[
            LLMResponse(text="Adding.", model="m", tool_calls=(call,), finish_reason="tool_calls"),
            '{"result": "three"}',
            '{"result": 3}',
        ]
    )
    chunks = await _collect(Aether(fake).stream("1+2?", tools=[add], output_type=int))
    assert [chunk.kind for chunk in chunks if chunk.kind != "text"] == [
        "tool_call", "tool_result", "output_retry"
    ]  # fmt: skip
    assert chunks[-1].output == 3
    resent = fake.requests[2].messages
    assert [message.role for message in resent] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert resent[1].tool_calls[0].name == "add"
    assert resent[1].text == "Adding."
    assert resent[2].text == "3"
    assert resent[3].text == '{"result": "three"}'


async def test_text_before_a_tool_call_is_not_part_of_the_answer() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    chunks = await _collect(
        Aether(FakeProvider()).stream("What is 2 + 3?", tools=[add], output_type=list[int])
    )
    assert chunks[-1].output == [1]
    last_text = [chunk for chunk in chunks if chunk.kind == "text" and chunk.text]
    assert last_text[-1].partial == [1]


async def test_a_stream_in_tool_mode_on_the_fake_still_ends_with_the_output() -> None:
    chunks = await _collect(
        Aether(FakeProvider()).stream("x", output_type=Invoice, output_mode="tool")
    )
    assert chunks[-1].output_mode == "tool"
    assert isinstance(chunks[-1].output, Invoice)


async def test_a_stream_stopped_early_releases_the_provider() -> None:
    fake = FakeProvider(responses=[VALID])
    async with contextlib.aclosing(Aether(fake).stream("x", output_type=Invoice)) as chunks:
        async for chunk in chunks:
            if chunk.partial:
                break
    assert fake.open_streams == 0


def test_the_sync_client_streams_and_asks_for_typed_answers() -> None:
    from aether import SyncAether

    with SyncAether(FakeProvider(responses=[VALID, VALID])) as client:
        assert client.ask("x", output_type=Invoice).customer == "Ada"
        chunks = list(client.stream("x", output_type=Invoice))
    assert chunks[-1].output == Invoice.model_validate_json(VALID)
    assert any(chunk.partial for chunk in chunks)


async def test_a_provider_without_stream_streams_structured_output_too() -> None:
    class CallOnly:
        structured_output = True

        async def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(text=VALID, model="m", output_mode="native")

    chunks = await _collect(Aether(CallOnly()).stream("x", output_type=Invoice))
    assert chunks[-1].output is not None
    assert chunks[-1].output_mode == "native"
    assert functools.reduce(lambda seen, chunk: seen + chunk.text, chunks, "") == VALID
