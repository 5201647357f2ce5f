"""The in-memory backend: least recently used out, time to live, size bounds."""

from __future__ import annotations

import pytest
from _cache_helpers import answer, cached_pipeline, provider, request

from aether import ConfigurationError
from aether.middleware.cache import CacheEntry, InMemoryCacheBackend, encode_entry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(text: str = "x") -> CacheEntry:
    return CacheEntry(response=answer(text), created_at=1.0)


async def test_an_entry_expires_after_its_ttl() -> None:
    clock = Clock()
    backend = InMemoryCacheBackend(ttl=60, clock=clock)
    await backend.set("k", entry())
    clock.now += 59.9
    assert await backend.get("k") == entry()
    clock.now += 0.1
    assert await backend.get("k") is None
    assert len(backend) == 0


async def test_an_expired_answer_is_asked_again() -> None:
    clock = Clock()
    fake = provider()
    pipeline, cache = cached_pipeline(InMemoryCacheBackend(ttl=10, clock=clock), fake)
    await pipeline.complete(request())
    clock.now += 5
    await pipeline.complete(request())
    clock.now += 5
    await pipeline.complete(request())
    assert len(fake.requests) == 2
    assert (cache.stats.hits, cache.stats.misses) == (1, 2)


async def test_reading_does_not_extend_the_ttl() -> None:
    clock = Clock()
    backend = InMemoryCacheBackend(ttl=10, clock=clock)
    await backend.set("k", entry())
    clock.now += 9
    assert await backend.get("k") is not None
    clock.now += 1
    assert await backend.get("k") is None


async def test_without_ttl_entries_stay_until_evicted() -> None:
    clock = Clock()
    backend = InMemoryCacheBackend(ttl=None, clock=clock)
    await backend.set("k", entry())
    clock.now += 10**9
    assert await backend.get("k") is not None


async def test_the_least_recently_used_entry_is_evicted_first() -> None:
    backend = InMemoryCacheBackend(max_entries=2)
    await backend.set("a", entry("a"))
    await backend.set("b", entry("b"))
    assert await backend.get("a") is not None  # a is now more recent than b
    await backend.set("c", entry("c"))
    assert len(backend) == 2
    assert "b" not in backend
    assert ["a" in backend, "c" in backend] == [True, True]


async def test_expired_entries_are_dropped_when_another_is_stored() -> None:
    clock = Clock()
    backend = InMemoryCacheBackend(ttl=10, clock=clock)
    await backend.set("old", entry())
    clock.now += 11
    await backend.set("new", entry())
    assert len(backend) == 1


async def test_max_bytes_bounds_the_json_size_of_the_entries() -> None:
    size = len(encode_entry(entry("aaaa")).encode())
    backend = InMemoryCacheBackend(max_bytes=2 * size + 1)
    for key in ("a", "b", "c"):
        await backend.set(key, entry("aaaa"))
    assert len(backend) == 2
    assert backend.total_bytes == 2 * size
    assert "a" not in backend


async def test_an_entry_larger_than_max_bytes_is_not_stored() -> None:
    backend = InMemoryCacheBackend(max_bytes=50)
    await backend.set("k", entry("long " * 100))
    assert len(backend) == 0
    assert backend.total_bytes == 0


async def test_storing_a_key_again_replaces_it_and_its_size() -> None:
    backend = InMemoryCacheBackend(max_bytes=10_000)
    await backend.set("k", entry("short"))
    await backend.set("k", entry("a longer answer this time"))
    assert len(backend) == 1
    assert backend.total_bytes == len(encode_entry(entry("a longer answer this time")).encode())
    assert (await backend.get("k")).response.text == "a longer answer this time"  # type: ignore[union-attr]


async def test_delete_and_clear_forget_entries() -> None:
    backend = InMemoryCacheBackend(max_bytes=10_000)
    for key in ("a", "b", "c"):
        await backend.set(key, entry())
    await backend.delete("a")
    await backend.delete("unknown")
    assert len(backend) == 2
    await backend.clear()
    assert (len(backend), backend.total_bytes) == (0, 0)


def test_invalid_bounds_are_reported_together() -> None:
    with pytest.raises(ConfigurationError) as caught:
        InMemoryCacheBackend(max_entries=0, max_bytes=0, ttl=0)
    assert len(caught.value.problems) == 3


def test_repr_shows_the_bounds() -> None:
    assert repr(InMemoryCacheBackend(max_entries=5, ttl=None)) == (
        "InMemoryCacheBackend(entries=0, max_entries=5, max_bytes=None, ttl=None)"
    )
