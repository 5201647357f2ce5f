"""`RedisCacheBackend`: entries in Redis, shared by processes and machines.

Each entry is one string key, ``<namespace>:cache:{<digest>}``, holding versioned JSON
(`encode_entry`) with a ``PX`` expiry. Processes agree on who calls the provider for a
cold key through a lock key, ``<namespace>:cache-lock:{<digest>}``, taken with ``SET NX
PX`` by a Lua script that first looks for the entry, so "read, else lock" is one atomic
round trip. The lock's expiry frees it if its holder dies; its holder stores the entry
and releases the lock in one more script, and releases only a lock it still holds. The
digest is the keys' hash tag, so an entry and its lock share a Redis Cluster slot.

Every command here may be sent twice without harm (the lock script hands a lock back to
the token that already holds it), so a coredis client that retries after a connection
error cannot make two callers lead.
"""

from __future__ import annotations

import logging
import re
from types import TracebackType

from aether.errors import ConfigurationError
from aether.extensions.redis import CoredisClient, LuaScript, RedisHandle
from aether.middleware._cache_entry import CacheEntry, decode_entry, encode_entry

__all__ = ["RedisCacheBackend"]

logger = logging.getLogger("aether.cache")

# KEYS: entry, lock. ARGV: token, lock_ttl_ms. Returns {1, data}, {2} (locked for us,
# now or by an earlier send of this same call) or {0} (someone else holds the lock).
_GET_OR_LOCK = LuaScript(
    """
local data = redis.call('GET', KEYS[1])
if data then
  return {1, data}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2}
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return {2}
end
return {0}
"""
)

# KEYS: entry, lock. ARGV: value, ttl_ms (0: none), token.
_SET_AND_UNLOCK = LuaScript(
    """
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
if redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return 1
"""
)

# KEYS: lock. ARGV: token.
_UNLOCK = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
)

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisCacheBackend:
    """Keeps entries in Redis; works on asyncio and trio.

    ::

        cache = RedisCacheBackend("redis://127.0.0.1:6379/0", namespace="myapp", ttl=86400)
        client = Aether(cache=cache)

    Open it once around its use (``async with cache:``): coredis keeps its connections
    inside that block.

    Args:
        redis: A Redis URL (``redis+cluster://`` for a Redis Cluster); the backend then
            makes its client when opened and closes it with itself. Or a coredis client
            to share with session stores, which you open and close.
        namespace: The prefix of every key, so several apps can share one database.
        ttl: Seconds an entry lives after it is stored; ``None`` keeps it until Redis
            evicts it (set a ``maxmemory-policy`` then).

    Raises:
        ConfigurationError: On a malformed URL, an empty namespace or a ttl not above 0.
    """

    __slots__ = ("_handle", "namespace", "ttl")

    def __init__(
        self,
        redis: CoredisClient | str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "aether",
        ttl: float | None = 3600.0,
    ) -> None:
        problems = []
        if not namespace:
            problems.append("namespace must not be empty")
        if ttl is not None and not ttl > 0:
            problems.append(f"ttl must be a number of seconds above 0, or None; not {ttl}")
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)
        self._handle = RedisHandle(redis, what="cache")
        self.namespace = namespace
        self.ttl = ttl

    @property
    def redis(self) -> CoredisClient:
        """The coredis client (raises `RedisNotOpenError` before ``async with cache``)."""
        return self._handle.client

    def entry_key(self, key: str) -> str:
        """The Redis key holding the entry for the cache key ``key``."""
        return f"{self.namespace}:cache:{{{key}}}"

    def lock_key(self, key: str) -> str:
        """The Redis key of the lock for ``key`` (in the entry's cluster slot)."""
        return f"{self.namespace}:cache-lock:{{{key}}}"

    @property
    def _ttl_ms(self) -> int:
        return 0 if self.ttl is None else _milliseconds(self.ttl)

    async def _decode(self, key: str, data: object) -> CacheEntry | None:
        if not isinstance(data, bytes | str):
            logger.warning("Redis returned %s for cache entry %s; ignored", type(data), key)
            return None
        try:
            return decode_entry(data)
        except ValueError as error:
            logger.warning(
                "the cache entry %r cannot be read (%s); it is deleted and treated as a miss",
                self.entry_key(key),
                error,
            )
        with self._handle.errors():
            await self.redis.delete([self.entry_key(key)])
        return None

    async def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key``; ``None`` if absent, expired or unreadable (then deleted)."""
        with self._handle.errors():
            data = await self.redis.get(self.entry_key(key))
        if data is None:
            return None
        return await self._decode(key, data)

    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` with the backend's ttl."""
        with self._handle.errors():
            await self.redis.set(
                self.entry_key(key),
                encode_entry(entry),
                px=None if self.ttl is None else self._ttl_ms,
            )

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._handle.errors():
            await self.redis.delete([self.entry_key(key)])

    async def get_or_lock(self, key: str, *, token: str, lock_ttl: float) -> CacheEntry | bool:
        """The entry, or ``True`` once the lock is held for ``token``, or ``False``."""
        keys = [self.entry_key(key), self.lock_key(key)]
        arguments: list[str | int] = [token, _milliseconds(lock_ttl)]
        for _ in range(2):
            with self._handle.errors():
                reply: object = await _GET_OR_LOCK(self.redis, keys, arguments)
            if not isinstance(reply, list) or not reply:
                raise ValueError(f"unexpected reply from the cache lock script: {reply!r}")
            if reply[0] == 2:
                return True
            if reply[0] == 0:
                return False
            entry = await self._decode(key, reply[1])
            if entry is not None:
                return entry
        return False  # pragma: no cover - a corrupt entry written again at once

    async def set_and_unlock(self, key: str, entry: CacheEntry, *, token: str) -> None:
        """Store ``entry``, then release the lock if ``token`` still holds it."""
        keys = [self.entry_key(key), self.lock_key(key)]
        with self._handle.errors():
            await _SET_AND_UNLOCK(self.redis, keys, [encode_entry(entry), self._ttl_ms, token])

    async def unlock(self, key: str, *, token: str) -> None:
        """Release the lock if ``token`` still holds it."""
        with self._handle.errors():
            await _UNLOCK(self.redis, [self.lock_key(key)], [token])

    async def clear(self) -> None:
        """Delete every entry of this namespace (locks expire on their own)."""
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self.namespace) + ":cache:*"
        with self._handle.errors():
            batch: list[bytes] = []
            # scan_iter visits every primary of a cluster; UNLINK splits keys by slot.
            async for found in self.redis.scan_iter(match=pattern, count=500):
                batch.append(found)
                if len(batch) >= 500:
                    await self.redis.unlink(batch)
                    batch = []
            if batch:
                await self.redis.unlink(batch)

    async def aclose(self) -> None:
        """Close the Redis client if this backend made it from a URL."""
        await self._handle.aclose()

    async def __aenter__(self) -> RedisCacheBackend:
        """Open the backend's own client (made from its URL); a shared one is yours."""
        await self._handle.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"RedisCacheBackend({self._handle.description!r}, "
            f"namespace={self.namespace!r}, ttl={self.ttl!r})"
        )
