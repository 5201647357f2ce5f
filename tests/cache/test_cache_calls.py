"""The cache in call mode: hits, misses, what is stored, per-call control."""

from __future__ import annotations

import anyio
import pytest
from _cache_helpers import answer, cached_pipeline, provider, request

from aether import Aether, ConfigurationError, LLMResponse, ServerError, TokenCounts
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.cache import (
    CACHE_CONTROL,
    CACHE_STATUS,
    CacheBackend,
    CacheMiddleware,
    CacheStats,
)


async def test_second_identical_call_is_served_without_the_provider(
    cache_backend: CacheBackend,
) -> None:
    fake = provider()
    pipeline, _ = cached_pipeline(cache_backend, fake)
    first = await pipeline.complete(request())
    second = await pipeline.complete(request())
    assert len(fake.requests) == 1
    assert second.text == first.text == "Paris is the capital of France."


async def test_a_hit_is_the_stored_response_with_nothing_billed(
    cache_backend: CacheBackend,
) -> None:
    pipeline, _ = cached_pipeline(cache_backend, provider())
    first = await pipeline.complete(request())
    second = await pipeline.complete(request())
    assert first.cost_usd == 0.00045
    assert second.cost_usd == 0.0
    assert second.model_dump(exclude={"cost_usd"}) == first.model_dump(exclude={"cost_usd"})


async def test_stats_count_hits_misses_and_what_hits_saved(cache_backend: CacheBackend) -> None:
    pipeline, cache = cached_pipeline(cache_backend, provider())
    for _ in range(3):
        await pipeline.complete(request())
    await pipeline.complete(request("another question"))
    assert cache.stats == CacheStats(
        hits=2,
        misses=2,
        saved_usd=pytest.approx(0.0009),
        saved_tokens=TokenCounts(input=2000, output=1000),
    )
    assert cache.stats.hit_rate == 0.5


async def test_stats_reset_sets_every_counter_to_zero(cache_backend: CacheBackend) -> None:
    pipeline, cache = cached_pipeline(cache_backend, provider())
    await pipeline.complete(request())
    await pipeline.complete(request())
    cache.stats.reset()
    assert cache.stats == CacheStats()
    assert cache.stats.hit_rate == 0.0


async def test_the_request_context_says_hit_or_miss(cache_backend: CacheBackend) -> None:
    pipeline, _ = cached_pipeline(cache_backend, provider())
    first, second = request(), request()
    await pipeline.complete(first)
    await pipeline.complete(second)
    assert first.context[CACHE_STATUS] == "miss"
    assert second.context[CACHE_STATUS] == "hit"


async def test_an_error_is_not_cached(cache_backend: CacheBackend) -> None:
    fake = FakeProvider(responses=[ServerError("down"), answer()])
    pipeline, cache = cached_pipeline(cache_backend, fake)
    with pytest.raises(ServerError):
        await pipeline.complete(request())
    response = await pipeline.complete(request())
    assert response.text == "Paris is the capital of France."
    assert len(fake.requests) == 2
    assert cache.stats.hits == 0


async def test_a_cancelled_call_is_not_cached(cache_backend: CacheBackend) -> None:
    reached = anyio.Event()

    async def hangs_first(sent: object) -> LLMResponse:
        if not reached.is_set():
            reached.set()
            await anyio.sleep_forever()
        return answer()

    fake = FakeProvider(responder=hangs_first)
    pipeline, cache = cached_pipeline(cache_backend, fake)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(pipeline.complete, request())
            await reached.wait()
            group.cancel_scope.cancel()
        await pipeline.complete(request())
    assert len(fake.requests) == 2
    assert cache.stats.misses == 2


async def test_bypass_neither_reads_nor_writes(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(cache_backend, fake)
    bypassed = request(context={CACHE_CONTROL: "bypass"})
    await pipeline.complete(bypassed)
    await pipeline.complete(request())  # a miss: the bypassed call stored nothing
    await pipeline.complete(request(context={CACHE_CONTROL: "bypass"}))  # not read
    assert len(fake.requests) == 3
    assert (cache.stats.bypasses, cache.stats.misses, cache.stats.hits) == (2, 1, 0)
    assert bypassed.context[CACHE_STATUS] == "bypass"


async def test_refresh_calls_the_provider_and_replaces_the_stored_answer(
    cache_backend: CacheBackend,
) -> None:
    fake = FakeProvider(responses=[answer("old"), answer("new")])
    pipeline, _ = cached_pipeline(cache_backend, fake)
    assert (await pipeline.complete(request())).text == "old"
    assert (await pipeline.complete(request(context={CACHE_CONTROL: "refresh"}))).text == "new"
    assert (await pipeline.complete(request())).text == "new"
    assert len(fake.requests) == 2


async def test_use_is_the_same_as_no_control(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, _ = cached_pipeline(cache_backend, fake)
    await pipeline.complete(request())
    await pipeline.complete(request(context={CACHE_CONTROL: "use"}))
    assert len(fake.requests) == 1


async def test_an_unknown_control_value_fails_before_anything_is_sent(
    cache_backend: CacheBackend,
) -> None:
    fake = provider()
    pipeline, _ = cached_pipeline(cache_backend, fake)
    with pytest.raises(ConfigurationError, match="'bypas'"):
        await pipeline.complete(request(context={CACHE_CONTROL: "bypas"}))
    assert fake.requests == []


async def test_facade_cache_option_bypasses_one_call(cache_backend: CacheBackend) -> None:
    fake = provider()
    client = Aether(fake, cache=cache_backend)
    await client.ask("hi")
    await client.ask("hi", cache="bypass")
    await client.ask("hi", cache="refresh")
    await client.ask("hi")
    assert len(fake.requests) == 3
    assert client.cache is not None
    assert (client.cache.stats.hits, client.cache.stats.bypasses) == (1, 1)


async def test_a_request_without_a_json_form_bypasses_the_cache(
    cache_backend: CacheBackend, caplog: pytest.LogCaptureFixture
) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(cache_backend, fake)
    odd = {"openai": {"callback": object()}}
    await pipeline.complete(request(provider_options=odd))
    await pipeline.complete(request(provider_options=odd))
    assert len(fake.requests) == 2
    assert cache.stats.bypasses == 2
    assert next(r.message for r in caplog.records if r.name == "aether.cache").startswith(
        "a request cannot be cached"
    )


async def test_invalidate_forgets_one_answer(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(cache_backend, fake)
    await pipeline.complete(request())
    await cache.invalidate(request())
    await pipeline.complete(request())
    assert len(fake.requests) == 2


def test_a_backend_without_the_methods_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a cache backend"):
        CacheMiddleware(object())  # type: ignore[arg-type]


def test_times_must_be_positive() -> None:
    with pytest.raises(ConfigurationError) as caught:
        CacheMiddleware(lock_timeout=0, poll_interval=-1)
    assert len(caught.value.problems) == 2
