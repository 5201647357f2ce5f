"""Identical requests on a cold key make one provider call; waiters never hang."""

from __future__ import annotations

from contextlib import aclosing, suppress

import anyio
import pytest
from _cache_helpers import answer, cached_pipeline, provider, request

from aether import Aether, LLMResponse, Pipeline, ServerError, StreamChunk
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.middleware.cache import CACHE_CONTROL, CacheBackend, CacheMiddleware


async def test_twenty_concurrent_identical_calls_make_one_provider_call(
    cache_backend: CacheBackend,
) -> None:
    fake = provider(delay=0.05)
    pipeline, cache = cached_pipeline(cache_backend, fake)
    texts: list[str] = []

    async def ask() -> None:
        texts.append((await pipeline.complete(request())).text)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(ask)
    assert len(fake.requests) == 1
    assert texts == ["Paris is the capital of France."] * 20
    assert (cache.stats.misses, cache.stats.hits) == (1, 19)


async def test_twenty_concurrent_identical_streams_make_one_provider_call(
    cache_backend: CacheBackend,
) -> None:
    fake = provider("a b c", chunk_delay=0.01)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    results: list[list[str]] = []

    async def stream() -> None:
        results.append([chunk.text async for chunk in pipeline.stream(request())])

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(stream)
    assert len(fake.requests) == 1
    assert results == [["a ", "b ", "c", ""]] * 20


async def test_waiters_get_the_error_of_the_call_they_waited_for(
    cache_backend: CacheBackend,
) -> None:
    fake = FakeProvider(responses=[ServerError("down")], delay=0.05)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    errors: list[BaseException] = []

    async def ask() -> None:
        try:
            await pipeline.complete(request())
        except ServerError as error:
            errors.append(error)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(ask)
    assert len(fake.requests) == 1
    assert len(errors) == 5
    assert {str(error) for error in errors} == {"down"}


async def test_a_waiter_takes_over_when_the_leader_is_cancelled(
    cache_backend: CacheBackend,
) -> None:
    reached = anyio.Event()

    async def hangs_first(sent: object) -> LLMResponse:
        if not reached.is_set():
            reached.set()
            await anyio.sleep_forever()
        return answer()

    fake = FakeProvider(responder=hangs_first)
    pipeline, cache = cached_pipeline(cache_backend, fake)
    results: list[LLMResponse] = []

    async def waiter() -> None:
        results.append(await pipeline.complete(request()))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group, anyio.create_task_group() as leading:
            leading.start_soon(pipeline.complete, request())
            await reached.wait()  # the leader is inside the provider
            group.start_soon(waiter)
            group.start_soon(waiter)
            await anyio.sleep(0.02)
            leading.cancel_scope.cancel()
    assert [response.text for response in results] == ["Paris is the capital of France."] * 2
    assert len(fake.requests) == 2  # the cancelled call, and one taking over
    assert (cache.stats.misses, cache.stats.hits) == (2, 1)


async def test_a_waiter_takes_over_when_the_leading_stream_is_abandoned(
    cache_backend: CacheBackend,
) -> None:
    fake = provider("a b c d", chunk_delay=0.02)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    waiter_chunks: list[StreamChunk] = []

    async def waiter() -> None:
        async for chunk in pipeline.stream(request()):
            waiter_chunks.append(chunk)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            async with aclosing(pipeline.stream(request())) as leading:
                first = await leading.__anext__()
                group.start_soon(waiter)
                await anyio.sleep(0.01)
            assert first.text == "a "
    assert "".join(chunk.text for chunk in waiter_chunks) == "a b c d"
    assert len(fake.requests) == 2
    assert fake.open_streams == 0


async def test_a_waiter_stops_waiting_after_lock_timeout(cache_backend: CacheBackend) -> None:
    release = anyio.Event()
    leading = anyio.Event()

    async def slow_then_fast(sent: object) -> LLMResponse:
        if len(fake.requests) == 1:
            leading.set()
            await release.wait()
        return answer()

    fake = FakeProvider(responder=slow_then_fast)
    pipeline, cache = cached_pipeline(cache_backend, fake, lock_timeout=0.05)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(pipeline.complete, request())
            await leading.wait()  # the first call holds the lock and is at the provider
            started = anyio.current_time()
            response = await pipeline.complete(request())
            waited = anyio.current_time() - started
            release.set()
    assert response.text == "Paris is the capital of France."
    assert 0.04 <= waited < 1.0
    assert len(fake.requests) == 2
    assert cache.stats.misses == 2


async def test_different_requests_do_not_wait_for_each_other(cache_backend: CacheBackend) -> None:
    fake = provider(delay=0.05)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for index in range(5):
                group.start_soon(pipeline.complete, request(f"question {index}"))
    assert len(fake.requests) == 5


async def test_refresh_does_not_wait_for_a_call_in_flight(cache_backend: CacheBackend) -> None:
    fake = provider(delay=0.05)
    pipeline, _ = cached_pipeline(cache_backend, fake)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(pipeline.complete, request())
            await anyio.sleep(0.01)
            group.start_soon(pipeline.complete, request(context={CACHE_CONTROL: "refresh"}))
    assert len(fake.requests) == 2


async def test_one_middleware_shared_by_two_clients_makes_one_call(
    cache_backend: CacheBackend,
) -> None:
    cache = CacheMiddleware(cache_backend, provider="fake")
    fakes = [provider(delay=0.05), provider(delay=0.05)]
    clients = [Aether(fake, cache=cache) for fake in fakes]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for index in range(10):
                group.start_soon(clients[index % 2].ask, "same question")
    assert sum(len(fake.requests) for fake in fakes) == 1


@pytest.mark.parametrize("mode", ["call", "stream"])
async def test_no_flight_is_left_behind(cache_backend: CacheBackend, mode: str) -> None:
    fake = FakeProvider(responses=[ServerError("down"), answer()], delay=0.01)
    cache = CacheMiddleware(cache_backend)
    pipeline = Pipeline([cache], fake)
    for _ in range(2):
        with suppress(ServerError):
            if mode == "call":
                await pipeline.complete(request())
            else:
                async for _chunk in pipeline.stream(request()):
                    pass
    assert cache._flights.flights == {}


async def test_stream_waiters_get_the_error_of_the_stream_they_waited_for(
    cache_backend: CacheBackend,
) -> None:
    fake = FakeProvider(
        responses=[StreamFault(ServerError("reset"), after_chunks=1)], chunk_delay=0.05
    )
    pipeline, _ = cached_pipeline(cache_backend, fake)
    outcomes: list[str] = []

    async def stream() -> None:
        try:
            async for _chunk in pipeline.stream(request()):
                pass
        except ServerError as error:
            outcomes.append(str(error))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(stream)
    assert outcomes == ["reset"] * 4
    assert len(fake.requests) == 1
