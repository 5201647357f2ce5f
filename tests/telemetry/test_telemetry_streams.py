"""Telemetry of streams: a span from the stream's start to its end, however it ends."""

from __future__ import annotations

import gc
from contextlib import aclosing, nullcontext

import anyio
import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import StatusCode

from aether import Aether, RetryPolicy
from aether.errors import RateLimitError, ServerError
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, Tool, ToolCall
from aether.middleware import _telemetry_names as aether_names
from tests.reliability._support import wait_until
from tests.telemetry._otel import Otel, parent_of, span_id

ANSWER = LLMResponse(text="one two three", model="m-served", input_tokens=3, output_tokens=3)


async def test_stream_span_runs_from_start_to_final_chunk(otel: Otel) -> None:
    fake = FakeProvider(responses=[ANSWER], words_per_chunk=1)
    client = Aether(fake, telemetry=otel.middleware(provider="fake"))
    deltas = [delta async for delta in client.stream_text("count")]
    assert deltas == ["one ", "two ", "three"]
    span = otel.one("chat fake-model")
    found = dict(span.attributes or {})
    assert found[gen_ai.GEN_AI_REQUEST_STREAM] is True
    assert found[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert found[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert aether_names.OUTCOME not in found
    first_chunk = found[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(first_chunk, float)
    assert span.end_time
    assert span.start_time
    assert 0 < first_chunk <= (span.end_time - span.start_time) / 1e9
    [point] = otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
    assert point.count == 1
    assert point.sum == pytest.approx(first_chunk)
    assert (point.attributes or {})[gen_ai.GEN_AI_OPERATION_NAME] == "chat"


async def test_stream_closed_early_ends_its_span_as_abandoned(otel: Otel) -> None:
    fake = FakeProvider(responses=[ANSWER], words_per_chunk=1)
    client = Aether(fake, telemetry=otel.middleware())
    async with aclosing(client.stream("count")) as stream:
        async for _chunk in stream:
            break
        assert otel.spans() == []  # still open while the stream is
    span = otel.one("chat fake-model")
    assert (span.attributes or {})[aether_names.OUTCOME] == "abandoned"
    assert span.status.status_code is StatusCode.UNSET
    assert fake.open_streams == 0


async def test_consumer_stopping_at_the_final_chunk_completes_the_span(otel: Otel) -> None:
    client = Aether(FakeProvider(responses=[ANSWER]), telemetry=otel.middleware())
    async with aclosing(client.stream("count")) as stream:
        async for chunk in stream:
            if chunk.is_final:
                break
    found = dict(otel.one("chat fake-model").attributes or {})
    assert aether_names.OUTCOME not in found
    assert found[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 3


async def test_stream_left_to_the_garbage_collector_still_ends_its_span(
    otel: Otel, anyio_backend: str
) -> None:
    fake = FakeProvider(responses=[ANSWER], words_per_chunk=1)
    client = Aether(fake, telemetry=otel.middleware())
    # trio warns that the generator should have been closed; on asyncio any warning fails.
    with pytest.warns(ResourceWarning) if anyio_backend == "trio" else nullcontext():
        async for _delta in client.stream_text("count"):
            break
        gc.collect()
        await wait_until(lambda: fake.open_streams == 0)
    span = otel.one("chat fake-model")
    assert (span.attributes or {})[aether_names.OUTCOME] == "abandoned"


async def test_cancelled_stream_records_the_cancellation(otel: Otel) -> None:
    first_chunk = anyio.Event()

    async def slow(request: LLMRequest) -> LLMResponse:
        return ANSWER

    fake = FakeProvider(responder=slow, words_per_chunk=1, chunk_delay=60)
    client = Aether(fake, telemetry=otel.middleware())

    async def consume() -> None:
        async for _delta in client.stream_text("count"):
            first_chunk.set()

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        await first_chunk.wait()
        group.cancel_scope.cancel()
    span = otel.one("chat fake-model")
    found = dict(span.attributes or {})
    assert found[aether_names.OUTCOME] == "cancelled"
    assert found[error_attributes.ERROR_TYPE] == anyio.get_cancelled_exc_class().__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert fake.open_streams == 0


async def test_stream_failing_mid_way_records_the_error(otel: Otel) -> None:
    fault = StreamFault(ServerError("overloaded", provider="fake"), after_chunks=2)
    client = Aether(FakeProvider(responses=[fault]), telemetry=otel.middleware())
    with pytest.raises(ServerError):
        async for _delta in client.stream_text("count"):
            pass
    span = otel.one("chat fake-model")
    assert (span.attributes or {})[error_attributes.ERROR_TYPE] == "ServerError"
    assert span.status.status_code is StatusCode.ERROR
    assert gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in (span.attributes or {})


async def test_stream_handshake_retries_show_as_attempts(otel: Otel) -> None:
    fake = FakeProvider(responses=[RateLimitError("busy", provider="fake"), ANSWER])
    client = Aether(
        fake, telemetry=otel.middleware(), retry=RetryPolicy(base_delay=0, jitter=0)
    )
    assert "".join([delta async for delta in client.stream_text("count")]) == "one two three"
    span = otel.one("chat fake-model")
    assert (span.attributes or {})[aether_names.ATTEMPTS] == 2
    [event] = span.events
    assert (event.attributes or {})["exception.type"] == "RateLimitError"
    assert (event.attributes or {})[aether_names.ATTEMPT] == 1


async def test_tool_loop_stream_nests_every_span_under_the_request(otel: Otel) -> None:
    async def echo(arguments: dict[str, object]) -> str:
        return "echoed"

    calls = (ToolCall(id="c1", name="echo"),)
    fake = FakeProvider(
        responses=[
            LLMResponse(text="Let me check.", model="m", tool_calls=calls, input_tokens=2),
            LLMResponse(text="All done.", model="m", input_tokens=5),
        ]
    )
    client = Aether(fake, telemetry=otel.middleware(capture_content=True))
    chunks: list[StreamChunk] = [
        chunk async for chunk in client.stream("go", tools=[Tool(name="echo", handler=echo)])
    ]
    assert [chunk.kind for chunk in chunks].count("tool_result") == 1
    agent = otel.one("invoke_agent")
    children = otel.named("chat fake-model") + otel.named("execute_tool echo")
    assert len(children) == 3
    assert {parent_of(span) for span in children} == {span_id(agent)}
    found = dict(agent.attributes or {})
    assert found[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert "All done." in str(found[gen_ai.GEN_AI_OUTPUT_MESSAGES])
    assert "Let me check." not in str(found[gen_ai.GEN_AI_OUTPUT_MESSAGES])
    assert agent.end_time
    assert all(
        span.end_time and span.end_time <= agent.end_time for span in children
    )


async def test_streamed_cache_hit_is_marked(otel: Otel) -> None:
    client = Aether(FakeProvider(responses=[ANSWER]), telemetry=otel.middleware(), cache=True)
    for _ in range(2):
        assert "".join([delta async for delta in client.stream_text("count")]) == "one two three"
    first, second = otel.named("chat fake-model")
    assert (first.attributes or {})[aether_names.CACHE_HIT] is False
    assert (second.attributes or {})[aether_names.CACHE_HIT] is True
    assert aether_names.OUTCOME not in (second.attributes or {})
    tokens = otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE)
    assert sum(point.sum for point in tokens) == 6  # the first stream's 3 + 3 only
