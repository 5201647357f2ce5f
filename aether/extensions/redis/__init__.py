"""A small Redis client on anyio sockets, shared by the Redis session store and cache.

::

    from aether.extensions.redis import RedisClient

    async with RedisClient("redis://127.0.0.1:6379/0") as redis:
        await redis.execute("SET", "greeting", "hello")

It speaks RESP2 over `anyio` sockets, so it runs on asyncio and on trio; redis-py is not
needed. Pass one client to several stores to share its connection pool.
"""

from aether.extensions.redis._client import RedisClient, RedisScript
from aether.extensions.redis._protocol import (
    RedisConnectionError,
    RedisError,
    RedisProtocolError,
    RedisReplyError,
    RedisTimeoutError,
    Reply,
)
from aether.extensions.redis._settings import RedisSettings, parse_redis_url

__all__ = [
    "RedisClient",
    "RedisConnectionError",
    "RedisError",
    "RedisProtocolError",
    "RedisReplyError",
    "RedisScript",
    "RedisSettings",
    "RedisTimeoutError",
    "Reply",
    "parse_redis_url",
]
