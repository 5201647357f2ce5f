"""`LuaScript`: a Lua script sent by its SHA1, loaded when a server lacks it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import coredis.exceptions

if TYPE_CHECKING:
    from aether.extensions.redis._client import CoredisClient

__all__ = ["LuaScript"]


class LuaScript:
    """A Lua script that Redis runs atomically, sent by its SHA1 (``EVALSHA``).

    ::

        increment = LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        await increment(redis, ["{tenant:a}:count"], [5])

    A server that lacks it (new, restarted, another cluster node) answers ``NOSCRIPT``,
    which means nothing ran: the script is loaded and sent again. coredis's own `Script`
    does the same through a retry policy built per call, which costs about a sixth of a
    loopback round trip more.
    """

    __slots__ = ("sha1", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha1 = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, client: CoredisClient, keys: Sequence[str], args: Sequence[str | int | bytes]
    ) -> Any:
        """Run on ``client`` with ``keys`` (one cluster slot) and ``args``; its reply."""
        try:
            return await client.evalsha(self.sha1, keys=list(keys), args=list(args))
        except coredis.exceptions.NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha1, keys=list(keys), args=list(args))

    def __repr__(self) -> str:
        return f"LuaScript(sha1={self.sha1[:12]!r})"
