"""The cache's public surface: import paths, laziness of the Redis backend."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_aether_does_not_load_the_redis_backend() -> None:
    code = (
        "import sys, aether, aether.middleware.cache\n"
        "print(sorted(m for m in ('aether.extensions.redis', 'aether.middleware._cache_redis')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_redis_backend_resolves_lazily_to_its_class() -> None:
    from aether.middleware._cache_redis import RedisCacheBackend as Direct
    from aether.middleware.cache import RedisCacheBackend

    assert RedisCacheBackend is Direct


def test_unknown_attributes_of_the_cache_module_raise() -> None:
    import aether.middleware.cache as cache

    with pytest.raises(AttributeError, match="NoSuchBackend"):
        _ = cache.NoSuchBackend  # type: ignore[attr-defined]


def test_the_middleware_package_exports_the_cache() -> None:
    from aether.middleware import CacheMiddleware
    from aether.middleware.cache import CacheMiddleware as Direct

    assert CacheMiddleware is Direct


def test_backends_implement_the_protocols() -> None:
    from aether.middleware.cache import (
        CacheBackend,
        InMemoryCacheBackend,
        RedisCacheBackend,
        SharedCacheBackend,
    )

    memory = InMemoryCacheBackend()
    redis = RedisCacheBackend("redis://127.0.0.1:6379/0")
    assert isinstance(memory, CacheBackend)
    assert not isinstance(memory, SharedCacheBackend)
    assert isinstance(redis, SharedCacheBackend)
