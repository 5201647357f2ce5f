"""A backend of your own: the Protocols are enough, shared locking included."""

from __future__ import annotations

import anyio
import anyio.lowlevel
from _cache_helpers import provider

from aether import Aether
from aether.middleware.cache import CacheEntry, SharedCacheBackend


class LockingDictBackend:
    """A `SharedCacheBackend` in a dict, as a test double for a shared store."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}
        self.locks: dict[str, str] = {}
        self.lock_calls = 0

    async def get(self, key: str) -> CacheEntry | None:
        return self.entries.get(key)

    async def set(self, key: str, entry: CacheEntry) -> None:
        self.entries[key] = entry

    async def delete(self, key: str) -> None:
        self.entries.pop(key, None)

    async def get_or_lock(self, key: str, *, token: str, lock_ttl: float) -> CacheEntry | bool:
        await anyio.lowlevel.checkpoint()
        self.lock_calls += 1
        if key in self.entries:
            return self.entries[key]
        if key in self.locks:
            return False
        self.locks[key] = token
        return True

    async def set_and_unlock(self, key: str, entry: CacheEntry, *, token: str) -> None:
        self.entries[key] = entry
        await self.unlock(key, token=token)

    async def unlock(self, key: str, *, token: str) -> None:
        if self.locks.get(key) == token:
            del self.locks[key]


async def test_a_custom_shared_backend_serves_two_clients_with_one_provider_call() -> None:
    backend = LockingDictBackend()
    assert isinstance(backend, SharedCacheBackend)
    fakes = [provider(delay=0.05), provider(delay=0.05)]
    clients = [Aether(fake, cache=backend) for fake in fakes]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for index in range(10):
                group.start_soon(clients[index % 2].ask, "same question")
    assert sum(len(fake.requests) for fake in fakes) == 1
    assert backend.locks == {}
    assert len(backend.entries) == 1
    assert backend.lock_calls >= 3  # one lock, and the other client polling it


async def test_a_custom_backend_that_fails_is_bypassed() -> None:
    class Broken:
        async def get(self, key: str) -> CacheEntry | None:
            raise OSError("disk on fire")

        async def set(self, key: str, entry: CacheEntry) -> None:
            raise OSError("disk on fire")

        async def delete(self, key: str) -> None:
            raise OSError("disk on fire")

    fake = provider()
    client = Aether(fake, cache=Broken())
    assert await client.ask("hi") == "Paris is the capital of France."
    assert await client.ask("hi") == "Paris is the capital of France."
    assert len(fake.requests) == 2
    assert client.cache is not None
    assert client.cache.stats.backend_errors == 4
