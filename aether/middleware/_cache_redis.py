"""`RedisCacheBackend`: entries in Redis, shared by processes and machines.

Each entry is one string key, ``{namespace}:cache:{digest}``, holding versioned JSON
(`encode_entry`) with a ``PX`` expiry. Processes agree on who calls the provider for a
cold key through a lock key, ``{namespace}:cache-lock:{digest}``, taken with ``SET NX
PX`` by a Lua script that first looks for the entry, so "read, else lock" is one atomic
round trip. The lock's expiry frees it if its holder dies; its holder stores the entry
and releases the lock in one more script, and releases only a lock it still holds.
"""

from __future__ import annotations

import logging
import re
from types import TracebackType

from aether.errors import ConfigurationError
from aether.extensions.redis import RedisClient, RedisScript
from aether.middleware._cache_entry import CacheEntry, decode_entry, encode_entry

__all__ = ["RedisCacheBackend"]

logger = logging.getLogger("aether.cache")

# KEYS: entry, lock. ARGV: token, lock_ttl_ms. Returns {1, data}, {2} (locked for us)
# or {0} (someone else holds the lock).
_GET_OR_LOCK = RedisScript(
    """
local data = redis.call('GET', KEYS[1])
if data then
  return {1, data}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2}
end
return {0}
"""
)

# KEYS: entry, lock. ARGV: value, ttl_ms (0: none), token.
_SET_AND_UNLOCK = RedisScript(
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
_UNLOCK = RedisScript(
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

    Args:
        redis: A Redis URL (the backend then owns its client and closes it in `aclose`),
            or a `RedisClient` to share with session stores (left open).
        namespace: The prefix of every key, so several apps can share one database.
        ttl: Seconds an entry lives after it is stored; ``None`` keeps it until Redis
            evicts it (set a ``maxmemory-policy`` then).

    Raises:
        ConfigurationError: On a malformed URL, an empty namespace or a ttl not above 0.
    """

    __slots__ = ("_owns_client", "namespace", "redis", "ttl")

    def __init__(
        self,
        redis: RedisClient | str = "redis://127.0.0.1:6379/0",
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
        self._owns_client = isinstance(redis, str)
        self.redis = RedisClient(redis) if isinstance(redis, str) else redis
        self.namespace = namespace
        self.ttl = ttl

    def entry_key(self, key: str) -> str:
        """The Redis key holding the entry for the cache key ``key``."""
        return f"{self.namespace}:cache:{key}"

    def lock_key(self, key: str) -> str:
        """The Redis key of the lock for the cache key ``key``."""
        return f"{self.namespace}:cache-lock:{key}"

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
        await self.redis.execute("DEL", self.entry_key(key))
        return None

    async def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key``; ``None`` if absent, expired or unreadable (then deleted)."""
        data = await self.redis.execute("GET", self.entry_key(key))
        if data is None:
            return None
        return await self._decode(key, data)

    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` with the backend's ttl."""
        arguments: list[str | int] = ["SET", self.entry_key(key), encode_entry(entry)]
        if self.ttl is not None:
            arguments += ["PX", self._ttl_ms]
        await self.redis.execute(*arguments)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        await self.redis.execute("DEL", self.entry_key(key))

    async def get_or_lock(self, key: str, *, token: str, lock_ttl: float) -> CacheEntry | bool:
        """The entry, or ``True`` once the lock is held for ``token``, or ``False``."""
        keys = [self.entry_key(key), self.lock_key(key)]
        for _ in range(2):
            reply = await self.redis.run_script(
                _GET_OR_LOCK, keys=keys, arguments=[token, _milliseconds(lock_ttl)]
            )
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
        await self.redis.run_script(
            _SET_AND_UNLOCK,
            keys=[self.entry_key(key), self.lock_key(key)],
            arguments=[encode_entry(entry), self._ttl_ms, token],
        )

    async def unlock(self, key: str, *, token: str) -> None:
        """Release the lock if ``token`` still holds it."""
        await self.redis.run_script(_UNLOCK, keys=[self.lock_key(key)], arguments=[token])

    async def clear(self) -> None:
        """Delete every entry of this namespace (locks expire on their own)."""
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self.namespace) + ":cache:*"
        cursor: bytes = b"0"
        while True:
            reply = await self.redis.execute("SCAN", cursor, "MATCH", pattern, "COUNT", 500)
            if not isinstance(reply, list) or len(reply) != 2:
                raise ValueError(f"unexpected reply to SCAN: {reply!r}")
            cursor, keys = reply
            if keys:
                await self.redis.execute("UNLINK", *keys)
            if cursor == b"0":
                return

    async def aclose(self) -> None:
        """Close the Redis client if this backend made it from a URL."""
        if self._owns_client:
            await self.redis.aclose()

    async def __aenter__(self) -> RedisCacheBackend:
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
            f"RedisCacheBackend({self.redis.settings.describe()!r}, "
            f"namespace={self.namespace!r}, ttl={self.ttl!r})"
        )
