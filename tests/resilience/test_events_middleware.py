"""EventsMiddleware: per-attempt request events, stream events, cost, failing subscribers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aether import (
    Aether,
    EventBus,
    LLMRequest,
    LLMResponse,
    Message,
    Pipeline,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TokenCounts,
)
from aether.events import (
    REQUEST_COMPLETE,
    REQUEST_ERROR,
    REQUEST_START,
    STREAM_CHUNK,
    STREAM_COMPLETE,
    STREAM_START,
    RequestComplete,
    StreamComplete,
)
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.middleware import EventsMiddleware


def answer(text: str = "ok") -> LLMResponse:
    return LLMResponse(
        text=text, model="gpt-4o-mini", provider="openai", input_tokens=1000, output_tokens=500
    )


def record(bus: EventBus, *names: str) -> list[Any]:
    seen: list[Any] = []
    for name in names:
        bus.on(name, seen.append)
    return seen


async def test_each_retry_attempt_emits_its_own_request_events() -> None:
    fake = FakeProvider(responses=[ServerError("boom"), RateLimitError("busy"), answer()])
    client = Aether(fake, retry=RetryPolicy(base_delay=0))
    seen = record(client.events, REQUEST_START, REQUEST_ERROR, REQUEST_COMPLETE)
    await client.complete("hi", model="gpt-4o-mini")
    assert [(event.name, event.attempt) for event in seen] == [
        ("request.start", 1),
        ("request.error", 1),
        ("request.start", 2),
        ("request.error", 2),
        ("request.start", 3),
        ("request.complete", 3),
    ]
    assert isinstance(seen[1].error, ServerError)
    assert isinstance(seen[3].error, RateLimitError)


async def test_request_complete_carries_model_tokens_duration_and_cost() -> None:
    client = Aether(FakeProvider(responses=[answer()]))
    seen = record(client.events, REQUEST_COMPLETE)
    response = await client.complete("hi", model="gpt-4o-mini")
    event = seen[0]
    assert isinstance(event, RequestComplete)
    assert event.model == "gpt-4o-mini"
    assert (event.input_tokens, event.output_tokens) == (1000, 500)
    assert event.duration_seconds >= 0
    assert event.cost_usd == response.cost_usd == client.usage.total_cost_usd == 0.00045


async def test_stream_events_one_chunk_event_per_delta_then_complete_with_cost() -> None:
    client = Aether(FakeProvider(responses=[answer("one two three")]))
    seen = record(client.events, STREAM_START, STREAM_CHUNK, STREAM_COMPLETE)
    async for _chunk in client.stream("hi", model="gpt-4o-mini"):
        pass
    assert [event.name for event in seen] == [
        "stream.start",
        "stream.chunk",
        "stream.chunk",
        "stream.chunk",
        "stream.complete",
    ]
    assert [event.chunk.text for event in seen[1:4]] == ["one ", "two ", "three"]
    complete = seen[-1]
    assert isinstance(complete, StreamComplete)
    assert (complete.chunks, complete.input_tokens, complete.output_tokens) == (3, 1000, 500)
    assert complete.tokens == TokenCounts(input=1000, output=500)
    assert complete.cost_usd == client.usage.total_cost_usd == 0.00045
    assert complete.model == "gpt-4o-mini"


async def test_retried_stream_is_one_logical_stream_with_a_request_per_attempt() -> None:
    fake = FakeProvider(responses=[StreamFault(ServerError("x"), after_chunks=0), "fine"])
    client = Aether(fake, retry=RetryPolicy(base_delay=0))
    seen = record(client.events, "*")
    async for _chunk in client.stream("hi"):
        pass
    assert [
        (event.name, getattr(event, "attempt", None))
        for event in seen
        if event.name != STREAM_CHUNK
    ] == [
        ("stream.start", None),
        ("request.start", 1),
        ("request.error", 1),
        ("request.start", 2),
        ("request.complete", 2),
        ("stream.complete", None),
    ]


async def test_streamed_request_completes_with_tokens_and_price() -> None:
    client = Aether(FakeProvider(responses=[answer("one two three")]))
    seen = record(client.events, REQUEST_COMPLETE)
    async for _chunk in client.stream("hi", model="gpt-4o-mini"):
        pass
    (complete,) = seen
    assert complete.response.text == "one two three"
    assert (complete.response.input_tokens, complete.response.output_tokens) == (1000, 500)
    assert complete.cost_usd == client.usage.total_cost_usd == 0.00045


async def test_stream_stopped_at_its_final_chunk_still_completes() -> None:
    client = Aether(FakeProvider(responses=[answer("one two")]))
    seen = record(client.events, "*")
    stream = client.stream("hi")
    async for chunk in stream:
        if chunk.is_final:
            break
    await stream.aclose()
    assert [event.name for event in seen][-2:] == ["request.complete", "stream.complete"]


async def test_failing_subscriber_is_logged_and_the_request_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Aether(FakeProvider("still answered"))

    @client.on(REQUEST_START)
    def broken(event: Any) -> None:
        raise RuntimeError("subscriber bug")

    with caplog.at_level(logging.ERROR, logger="aether.events"):
        assert await client.ask("hi") == "still answered"
    assert any("subscriber" in record.getMessage() for record in caplog.records)


async def test_without_a_pricer_events_report_only_a_price_already_known() -> None:
    bus = EventBus()
    seen = record(bus, REQUEST_COMPLETE)
    pipeline = Pipeline([EventsMiddleware(bus)], FakeProvider(responses=[answer()]))
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model="gpt-4o-mini")
    await pipeline.complete(request)
    assert seen[0].cost_usd is None


async def test_events_middleware_alone_emits_request_events_around_a_stream() -> None:
    bus = EventBus()
    seen = record(bus, "*")
    pipeline = Pipeline([EventsMiddleware(bus)], FakeProvider("a b"))
    request = LLMRequest(messages=(Message(role="user", content="hi"),))
    async for _chunk in pipeline.stream(request):
        pass
    assert [event.name for event in seen] == ["request.start", "request.complete"]
