"""EventBus and the events middleware."""

from __future__ import annotations

import logging

import pytest

from aether import Aether, LLMRequest, Message, ServerError
from aether.events import (
    ALL_EVENTS,
    REQUEST_COMPLETE,
    REQUEST_ERROR,
    REQUEST_START,
    STREAM_CHUNK,
    STREAM_COMPLETE,
    STREAM_ERROR,
    STREAM_START,
    EventBus,
    RequestStart,
)
from aether.extensions.llm.fake import FakeProvider, StreamFault


def names_of(bus: EventBus) -> list[str]:
    seen: list[str] = []
    bus.on("*", lambda event: seen.append(event.name))
    return seen


def test_there_are_ten_events() -> None:
    assert len(ALL_EVENTS) == 10
    assert len(set(ALL_EVENTS)) == 10


def test_unknown_event_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown event name 'request\.done'"):
        EventBus().on("request.done", print)


async def test_call_fires_start_then_complete() -> None:
    client = Aether(FakeProvider("ok"))
    seen = names_of(client.events)
    await client.ask("hi")
    assert seen == [REQUEST_START, REQUEST_COMPLETE]


async def test_failed_call_fires_start_then_error() -> None:
    client = Aether(
        FakeProvider(responses=[ServerError("down", status_code=503)]), with_retry=False
    )
    errors: list[BaseException] = []
    client.on(REQUEST_ERROR, lambda event: errors.append(event.error))
    seen = names_of(client.events)
    with pytest.raises(ServerError):
        await client.ask("hi")
    assert seen == [REQUEST_START, REQUEST_ERROR]
    assert isinstance(errors[0], ServerError)


async def test_stream_fires_one_chunk_event_per_delta() -> None:
    client = Aether(FakeProvider("one two three"))
    seen: list[str] = []
    for name in (STREAM_START, STREAM_CHUNK, STREAM_COMPLETE):
        client.on(name, lambda event: seen.append(event.name))
    indexes: list[int] = []
    client.on(STREAM_CHUNK, lambda event: indexes.append(event.index))
    async for _ in client.stream("hi"):
        pass
    assert seen == [STREAM_START, STREAM_CHUNK, STREAM_CHUNK, STREAM_CHUNK, STREAM_COMPLETE]
    assert indexes == [0, 1, 2]


async def test_stream_complete_carries_tokens_and_finish_reason() -> None:
    client = Aether(FakeProvider("one two three"))
    completed = []
    client.on(STREAM_COMPLETE, completed.append)
    async for _ in client.stream("hi there"):
        pass
    event = completed[0]
    assert (event.chunks, event.output_tokens, event.input_tokens) == (3, 3, 2)
    assert event.finish_reason == "stop"
    assert event.duration_seconds >= 0


async def test_broken_stream_fires_error_with_chunks_so_far() -> None:
    fault = StreamFault(ServerError("cut"), after_chunks=2, text="a b c d")
    client = Aether(FakeProvider(responses=[fault]))
    errors = []
    client.on(STREAM_ERROR, errors.append)
    with pytest.raises(ServerError):
        async for _ in client.stream("hi"):
            pass
    assert len(errors) == 1
    assert errors[0].chunks == 2


async def test_async_subscriber_is_awaited() -> None:
    client = Aether(FakeProvider("ok"))
    seen: list[str] = []

    @client.on(REQUEST_COMPLETE)
    async def record(event: object) -> None:
        seen.append("async")

    await client.ask("hi")
    assert seen == ["async"]


async def test_subscriber_exception_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    client = Aether(FakeProvider("ok"))

    @client.on(REQUEST_START)
    def broken(event: object) -> None:
        raise RuntimeError("subscriber bug")

    @client.on(REQUEST_COMPLETE)
    async def broken_async(event: object) -> None:
        raise RuntimeError("async subscriber bug")

    with caplog.at_level(logging.ERROR, logger="aether.events"):
        assert await client.ask("hi") == "ok"
    messages = [record.getMessage() for record in caplog.records]
    assert any("broken" in message and REQUEST_START in message for message in messages)
    assert any("broken_async" in message for message in messages)


async def test_off_removes_a_subscription() -> None:
    bus = EventBus()
    seen: list[str] = []

    def record(event: object) -> None:
        seen.append("x")

    bus.on(REQUEST_START, record)
    bus.off(REQUEST_START, record)
    assert not bus.wants(REQUEST_START)
    request = LLMRequest(messages=(Message(role="user", content="hi"),))
    await bus.emit(RequestStart(request=request))
    assert seen == []


async def test_a_subscriber_added_during_an_emit_gets_the_next_event_only() -> None:
    bus = EventBus()
    seen: list[str] = []

    def late(event: object) -> None:
        seen.append("late")

    def resubscribing(event: object) -> None:
        seen.append("first")
        bus.on(REQUEST_START, late)
        bus.on(REQUEST_START, resubscribing)  # would loop forever if appended in place

    bus.on(REQUEST_START, resubscribing)
    request = LLMRequest(messages=(Message(role="user", content="hi"),))
    await bus.emit(RequestStart(request=request))
    assert seen == ["first"]
    seen.clear()
    await bus.emit(RequestStart(request=request))
    assert seen == ["first", "late", "first"]


async def test_events_name_the_attempt_as_one_by_default() -> None:
    client = Aether(FakeProvider("ok"))
    attempts: list[int] = []
    client.on(REQUEST_START, lambda event: attempts.append(event.attempt))
    await client.ask("hi")
    assert attempts == [1]
