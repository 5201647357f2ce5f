"""Fixtures for the cache tests: every behaviour runs on both backends, asyncio and trio.

``cache_backend`` is an in-memory backend or a Redis one (its own namespace on the
session's Redis server); ``make_backend`` builds more of the same kind, sharing one
server, for tests with several clients.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from aether.extensions.redis import RedisClient
from aether.middleware.cache import CacheBackend, InMemoryCacheBackend, RedisCacheBackend

BackendFactory = Callable[[], CacheBackend]


@pytest.fixture(params=["memory", "redis"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_backend(
    backend_kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[BackendFactory]:
    """Builds backends of this test's kind; Redis ones share a namespace and are closed."""
    if backend_kind == "memory":
        shared = InMemoryCacheBackend()
        yield lambda: shared
        return
    url = request.getfixturevalue("redis_url")
    namespace = f"test-{uuid.uuid4().hex}"
    clients: list[RedisClient] = []

    def factory() -> CacheBackend:
        client = RedisClient(url)
        clients.append(client)
        return RedisCacheBackend(client, namespace=namespace)

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
def cache_backend(make_backend: BackendFactory) -> CacheBackend:
    return make_backend()
