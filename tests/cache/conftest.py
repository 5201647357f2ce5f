"""Fixtures for the cache tests: every behaviour runs on every backend, asyncio and trio.

``cache_backend`` is an in-memory backend, a Redis one (its own namespace on the run's
Redis server), or a Redis one on the run's local Redis Cluster; ``make_backend`` builds
more of the same kind, sharing one namespace, for tests with several clients.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from aether.middleware.cache import CacheBackend, InMemoryCacheBackend, RedisCacheBackend

BackendFactory = Callable[[], Awaitable[CacheBackend]]

_URL_FIXTURES = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_backend(
    backend_kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[BackendFactory]:
    """Builds open backends of this test's kind, sharing a namespace; closes them after."""
    if backend_kind == "memory":
        shared = InMemoryCacheBackend()

        async def memory() -> CacheBackend:
            return shared

        yield memory
        return
    url = request.getfixturevalue(_URL_FIXTURES[backend_kind])
    namespace = f"test-{uuid.uuid4().hex}"
    async with AsyncExitStack() as stack:

        async def redis() -> CacheBackend:
            backend = RedisCacheBackend(url, namespace=namespace)
            return await stack.enter_async_context(backend)

        yield redis


@pytest.fixture
async def cache_backend(make_backend: BackendFactory) -> CacheBackend:
    return await make_backend()
