"""`RedisSessionStore`: histories in Redis, shared by many processes and machines.

Each session is one Redis list under ``{namespace}:session:{session_id}``, one versioned
JSON message (`aether.memory.codec`) per element. A turn is appended by one Lua script,
which Redis runs atomically: no other client's messages can land between a turn's two,
and the system message of a new session is written once however many writers race.
Saving a whole history is a script too (delete, push, expire), so readers never see
half of it.

A turn carries an id. When the connection breaks after the append was sent, nobody
knows whether it ran: the store sends it again, and the script, finding the id among the
session's recent turn ids (a small list beside the history, ``{<session key>}:turns``, in
the same cluster slot, kept for ten minutes), does not store it twice.

With ``ttl`` set, every write (append or save) resets the key's expiry: a conversation
idle for ``ttl`` seconds is forgotten. Reads do not extend it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TypeVar

from aether.errors import ConfigurationError, SessionCorruptedError, SessionError
from aether.extensions.redis import (
    CoredisClient,
    LuaScript,
    RedisConnectionError,
    RedisError,
    RedisHandle,
    RedisNotOpenError,
    RedisReplyError,
    same_slot_key,
)
from aether.llm.contracts import Message
from aether.memory.codec import decode_messages, encode_message

__all__ = ["RedisSessionStore"]

_T = TypeVar("_T")

TURN_IDS_KEPT = 16
"""How many recent turn ids a session remembers (for appends re-sent after a failure)."""
TURN_IDS_TTL_MS = 600_000
"""How long (ms) the turn ids outlive the last append: far longer than any re-send."""

# KEYS: history, turn ids. ARGV: ttl_ms, turn_id, prefix_count, prefix..., messages...
# (pushed 1000 at a time: Lua's unpack has a stack limit of a few thousand values).
# Returns the history's length, negated when the turn was already stored.
_APPEND = LuaScript(
    f"""
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
if redis.call('LPOS', KEYS[2], ARGV[2]) then
  return -redis.call('LLEN', key)
end
local first = 4
if redis.call('EXISTS', key) == 1 then
  first = 4 + tonumber(ARGV[3])
end
for i = first, #ARGV, 1000 do
  redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ttl > 0 then
  redis.call('PEXPIRE', key, ttl)
end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, {TURN_IDS_KEPT - 1})
redis.call('PEXPIRE', KEYS[2], {TURN_IDS_TTL_MS})
return redis.call('LLEN', key)
"""
)

# KEYS: history. ARGV: ttl_ms, messages...
_SAVE = LuaScript(
    """
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
redis.call('DEL', key)
for i = 2, #ARGV, 1000 do
  redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ttl > 0 and #ARGV > 1 then
  redis.call('PEXPIRE', key, ttl)
end
return #ARGV - 1
"""
)


class RedisSessionStore:
    """Keeps histories in Redis; works on asyncio and trio.

    ::

        store = RedisSessionStore("redis://127.0.0.1:6379/0", ttl=7 * 24 * 3600)
        client = Aether(memory_store=store)

    Open it once around its use (``async with store:``, in your app's lifespan say):
    coredis keeps its connections inside that block.

    Args:
        redis: A Redis URL (``redis+cluster://`` for a Redis Cluster); the store then
            makes its client when opened and closes it with itself. Or a coredis client
            (``coredis.Redis``, ``coredis.RedisCluster``) to share, which you open and
            close (`aether.extensions.redis.create_redis_client` makes one that never
            re-sends a command silently).
        namespace: The prefix of every key, so several apps can share one database.
        ttl: Seconds of inactivity after which a history expires; ``None`` keeps it.

    Raises:
        ConfigurationError: On a malformed URL, an empty namespace or a ttl of 0 or less.
    """

    __slots__ = ("_handle", "namespace", "ttl")

    def __init__(
        self,
        redis: CoredisClient | str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "aether",
        ttl: float | None = None,
    ) -> None:
        problems = []
        if not namespace:
            problems.append("namespace must not be empty")
        if ttl is not None and ttl <= 0:
            problems.append(f"ttl must be a number of seconds above 0, or None; not {ttl}")
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)
        self._handle = RedisHandle(redis, what="store")
        self.namespace = namespace
        self.ttl = ttl

    @property
    def redis(self) -> CoredisClient:
        """The coredis client (raises `RedisNotOpenError` before ``async with store``)."""
        return self._handle.client

    def key(self, session_id: str) -> str:
        """The Redis key holding ``session_id``'s history."""
        return f"{self.namespace}:session:{session_id}"

    def turns_key(self, session_id: str) -> str:
        """The Redis key of ``session_id``'s recent turn ids (in the history's slot)."""
        return same_slot_key(self.key(session_id), ":turns")

    @property
    def _ttl_ms(self) -> int:
        return 0 if self.ttl is None else max(1, round(self.ttl * 1000))

    async def _run(self, session_id: str, action: str, work: Callable[[], Awaitable[_T]]) -> _T:
        try:
            with self._handle.errors():
                return await work()
        except RedisReplyError as error:
            if error.code == "WRONGTYPE":
                raise SessionCorruptedError(
                    f"could not {action} session {session_id!r}: the Redis key "
                    f"{self.key(session_id)!r} holds something other than a list. Another "
                    f"program uses that key: give this store its own namespace=, or delete it.",
                    session_id=session_id,
                ) from error
            raise SessionError(
                f"Redis refused to {action} session {session_id!r}: {error}"
            ) from error
        except RedisNotOpenError:
            raise
        except RedisError as error:
            raise SessionError(
                f"could not {action} session {session_id!r} in Redis: {error}"
            ) from error

    async def load(self, session_id: str) -> list[Message]:
        """The stored history, oldest first; ``[]`` when there is none.

        Raises:
            SessionCorruptedError: If a stored element cannot be read.
        """

        async def work() -> object:
            return await self.redis.lrange(self.key(session_id), 0, -1)

        items = await self._run(session_id, "load", work)
        if not isinstance(items, list):
            raise SessionError(f"Redis answered LRANGE with {type(items).__name__}, not a list")
        return decode_messages(session_id, items)

    async def save(self, session_id: str, messages: Sequence[Message]) -> None:
        """Replace the whole history atomically (``[]`` deletes it)."""
        encoded = [encode_message(message) for message in messages]

        async def work() -> object:
            return await _SAVE(self.redis, [self.key(session_id)], [self._ttl_ms, *encoded])

        await self._run(session_id, "save", work)

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        prefix_if_new: Sequence[Message] = (),
    ) -> None:
        """Add ``messages`` at the end atomically; ``prefix_if_new`` first if new.

        If the connection breaks once the turn was sent, it is sent once more: its turn id
        keeps it from being stored twice. A second failure raises `SessionError`.
        """
        if not messages:
            return
        arguments: list[str | int] = [
            self._ttl_ms,
            uuid.uuid4().hex,
            len(prefix_if_new),
            *(encode_message(message) for message in prefix_if_new),
            *(encode_message(message) for message in messages),
        ]
        keys = [self.key(session_id), self.turns_key(session_id)]

        async def work() -> object:
            try:
                with self._handle.errors():
                    return await _APPEND(self.redis, keys, arguments)
            except RedisConnectionError:
                pass  # It may or may not have run: the turn id makes a second try safe.
            return await _APPEND(self.redis, keys, arguments)

        await self._run(session_id, "append to", work)

    async def delete(self, session_id: str) -> None:
        """Remove the history; an unknown id is not an error."""

        async def work() -> object:
            return await self.redis.delete([self.key(session_id), self.turns_key(session_id)])

        await self._run(session_id, "delete", work)

    async def exists(self, session_id: str) -> bool:
        """Whether a history is stored under ``session_id``."""

        async def work() -> object:
            return await self.redis.exists([self.key(session_id)])

        return await self._run(session_id, "check", work) == 1

    async def aclose(self) -> None:
        """Close the Redis client if this store made it from a URL."""
        await self._handle.aclose()

    async def __aenter__(self) -> RedisSessionStore:
        """Open the store's own client (made from its URL); a shared one is yours to open."""
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
            f"RedisSessionStore({self._handle.description!r}, "
            f"namespace={self.namespace!r}, ttl={self.ttl!r})"
        )
