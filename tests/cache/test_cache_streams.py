"""The cache in stream mode: replay, what is never stored, and calls kept apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest
from _cache_helpers import answer, cached_pipeline, provider, request

from aether import LLMRequest, Pipeline, ServerError, StreamChunk, ToolCall
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.middleware.cache import CACHE_STATUS, CacheBackend, CacheMiddleware

TEXT = "one two three four five"


async def collect(pipeline: Pipeline, sent: LLMRequest | None = None) -> list[StreamChunk]:
    return [chunk async for chunk in pipeline.stream(sent or request())]


async def test_a_stream_hit_replays_the_chunks_in_order(cache_backend: CacheBackend) -> None:
    fake = provider(TEXT)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    first = await collect(pipeline)
    second = await collect(pipeline)
    assert len(fake.requests) == 1
    assert [chunk.text for chunk in second] == ["one ", "two ", "three ", "four ", "five", ""]
    assert second[:-1] == first[:-1]


async def test_a_replayed_final_chunk_keeps_its_metadata_and_bills_nothing(
    cache_backend: CacheBackend,
) -> None:
    calls = (ToolCall(id="c1", name="lookup", arguments={"city": "Paris"}),)
    response = answer(TEXT, tool_calls=calls, finish_reason="tool_calls", reasoning_tokens=7)
    fake = FakeProvider(responder=lambda request: response)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    first = (await collect(pipeline))[-1]
    second = (await collect(pipeline))[-1]
    assert first.cost_usd == 0.00045
    assert second.cost_usd == 0.0
    assert second.model_dump(exclude={"cost_usd"}) == first.model_dump(exclude={"cost_usd"})
    assert second.tool_calls == calls
    assert (second.finish_reason, second.reasoning_tokens) == ("tool_calls", 7)


async def test_a_stream_hit_is_counted_and_marked(cache_backend: CacheBackend) -> None:
    pipeline, cache = cached_pipeline(cache_backend, provider(TEXT))
    await collect(pipeline)
    sent = request()
    await collect(pipeline, sent)
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)
    assert cache.stats.saved_usd == 0.00045
    assert sent.context[CACHE_STATUS] == "hit"


async def test_an_abandoned_stream_is_not_stored(cache_backend: CacheBackend) -> None:
    fake = provider(TEXT)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    async with aclosing(pipeline.stream(request())) as stream:
        async for _chunk in stream:
            break
    assert fake.open_streams == 0
    await collect(pipeline)
    assert len(fake.requests) == 2


async def test_a_stream_that_fails_midway_is_not_stored(cache_backend: CacheBackend) -> None:
    fake = FakeProvider(
        responses=[StreamFault(ServerError("connection reset"), after_chunks=2), answer(TEXT)]
    )
    pipeline, _ = cached_pipeline(cache_backend, fake)
    seen: list[str] = []
    with pytest.raises(ServerError):
        async for chunk in pipeline.stream(request()):
            seen.append(chunk.text)
    assert seen == ["partial ", "output "]
    chunks = await collect(pipeline)
    assert "".join(chunk.text for chunk in chunks) == TEXT
    assert len(fake.requests) == 2


async def test_a_stream_that_ends_without_a_final_chunk_is_not_stored(
    cache_backend: CacheBackend,
) -> None:
    calls: list[LLMRequest] = []

    class Truncating:
        name = "truncating"

        async def complete(self, request: LLMRequest) -> None:
            raise AssertionError("streams only")

        async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
            calls.append(request)
            yield StreamChunk(text="cut")

    cache = CacheMiddleware(cache_backend)
    pipeline = Pipeline([cache], Truncating())
    await collect(pipeline)
    await collect(pipeline)
    assert len(calls) == 2
    assert cache.stats.hits == 0


async def test_a_consumer_that_stops_at_the_final_chunk_still_stores_it(
    cache_backend: CacheBackend,
) -> None:
    fake = provider(TEXT)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    async with aclosing(pipeline.stream(request())) as stream:
        async for chunk in stream:
            if chunk.is_final:
                break
    await collect(pipeline)
    assert len(fake.requests) == 1


async def test_a_call_and_a_stream_are_cached_apart(cache_backend: CacheBackend) -> None:
    fake = provider(TEXT)
    pipeline, cache = cached_pipeline(cache_backend, fake)
    await pipeline.complete(request())
    await collect(pipeline)
    await collect(pipeline)
    await pipeline.complete(request())
    assert len(fake.requests) == 2
    assert cache.key(request()) != cache.key(request(), stream=True)


async def test_a_stream_error_is_not_stored(cache_backend: CacheBackend) -> None:
    fake = FakeProvider(responses=[ServerError("down"), answer(TEXT)])
    pipeline, _ = cached_pipeline(cache_backend, fake)
    with pytest.raises(ServerError):
        await collect(pipeline)
    await collect(pipeline)
    await collect(pipeline)
    assert len(fake.requests) == 2
