"""Redis for Aether, through coredis: the session store, the cache and shared state use it.

::

    from aether.extensions.redis import create_redis_client

    redis = create_redis_client("redis://127.0.0.1:6379/0")   # or redis+cluster://...
    async with redis:
        await redis.set("greeting", "hello")

`coredis <https://coredis.readthedocs.io>`_ runs on anyio (asyncio and trio), and speaks
RESP3 to single nodes, Redis Cluster and Sentinel, over TCP, TLS or unix sockets. It is
an optional extra: ``pip install 'aether-llm[redis]'``. A coredis client keeps its
connections inside a task group, so it must be opened (``async with client:``) around
its use; a store or cache made from a URL opens its own client in its ``async with``.

Aether's clients never re-send a command after a connection error (coredis's default
does, which can run a command twice); `redis_errors` maps coredis's exceptions onto
Aether's `RedisError` family.
"""

from __future__ import annotations

try:
    import coredis  # noqa: F401 - fail here, with the fix, if the extra is missing
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "Aether's Redis support needs coredis: pip install 'aether-llm[redis]'"
    ) from error

from aether.extensions.redis._client import (
    CoredisClient,
    RedisHandle,
    create_redis_client,
    describe_redis,
    release_cluster_layout,
)
from aether.extensions.redis._errors import (
    RedisConnectionError,
    RedisError,
    RedisNotOpenError,
    RedisReplyError,
    RedisTimeoutError,
    redis_errors,
)
from aether.extensions.redis._scripts import LuaScript
from aether.extensions.redis._settings import RedisSettings, parse_redis_url
from aether.extensions.redis._slots import hash_slot, hash_tag, same_slot_key

__all__ = [
    "CoredisClient",
    "LuaScript",
    "RedisConnectionError",
    "RedisError",
    "RedisHandle",
    "RedisNotOpenError",
    "RedisReplyError",
    "RedisSettings",
    "RedisTimeoutError",
    "create_redis_client",
    "describe_redis",
    "hash_slot",
    "hash_tag",
    "parse_redis_url",
    "redis_errors",
    "release_cluster_layout",
    "same_slot_key",
]

_REPLACED = {
    "RedisProtocolError": "RedisError (coredis reports a bad reply as a connection error)",
    "RedisClient": "a coredis client: create_redis_client(url), or coredis.Redis(...)",
    "RedisScript": "LuaScript(source), called with a coredis client, keys and args",
    "Reply": "coredis's own reply types",
}


def __getattr__(name: str) -> object:
    # ImportError, not AttributeError: "from ... import RedisClient" would replace an
    # AttributeError by a bare "cannot import name" and lose the advice.
    if name in _REPLACED:
        raise ImportError(
            f"aether.extensions.redis.{name} was removed when Aether moved to coredis; "
            f"use {_REPLACED[name]} (see docs/sessions.md)"
        )
    raise AttributeError(f"module 'aether.extensions.redis' has no attribute {name!r}")
