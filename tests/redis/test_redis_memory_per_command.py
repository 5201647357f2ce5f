"""Issue 21: no Redis command leaves memory behind (frames, tracebacks, replies).

Aether's first Redis client re-raised one module-level exception to mean "the reply is
not complete yet"; each raise added its frames to that exception's traceback, so every
command kept two frames alive, with their locals (the reply being parsed: for a session
load, the whole history). About 7 KB per command, without end. These tests count what
stays allocated (tracemalloc, after a full collection) as the commands go on: the growth
over a second run of commands, so that what the first commands cache once (interned
strings, lazily built tables) does not count; for the session store and the cache backend
on the client in use.
"""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable

import pytest

from aether.extensions.memory.redis import RedisSessionStore
from aether.llm.contracts import LLMResponse, Message
from aether.middleware.cache import CacheEntry, RedisCacheBackend

pytestmark = pytest.mark.redis

WARM_UP, COMMANDS = 50, 300
BYTES_PER_COMMAND = 64
"""Far below the leak's 7 KB, far above what allocator noise averages to per command."""

HISTORY = [Message(role="user", content="a question of some length " * 8)] * 5


async def bytes_kept_per_command(command: Callable[[], Awaitable[object]]) -> float:
    """Bytes still allocated per command, over the second of two runs of commands."""
    for _ in range(WARM_UP):
        await command()
    tracemalloc.start()
    try:
        kept = []
        for _ in range(2):
            for _ in range(COMMANDS):
                await command()
            gc.collect()
            kept.append(tracemalloc.get_traced_memory()[0])
        return (kept[1] - kept[0]) / COMMANDS
    finally:
        tracemalloc.stop()


async def test_session_loads_keep_no_memory(redis_url: str) -> None:
    async with RedisSessionStore(redis_url, namespace=f"test-{uuid.uuid4().hex}") as store:
        await store.save("s", HISTORY)
        kept = await bytes_kept_per_command(lambda: store.load("s"))
        await store.delete("s")
    assert kept < BYTES_PER_COMMAND, kept


async def test_session_turns_keep_no_memory(redis_url: str) -> None:
    turn = [Message(role="user", content="hi"), Message(role="assistant", content="hello")]
    async with RedisSessionStore(redis_url, namespace=f"test-{uuid.uuid4().hex}") as store:
        # A new session per turn: the history itself must not count as kept memory.
        ids = iter(range(WARM_UP + 2 * COMMANDS))
        kept = await bytes_kept_per_command(lambda: store.append(f"s{next(ids)}", turn))
    assert kept < BYTES_PER_COMMAND, kept


async def test_cache_reads_and_writes_keep_no_memory(redis_url: str) -> None:
    entry = CacheEntry(response=LLMResponse(text="Paris. " * 50, model="m"))
    async with RedisCacheBackend(redis_url, namespace=f"test-{uuid.uuid4().hex}") as cache:
        await cache.set("k", entry)

        async def read_and_write() -> None:
            assert await cache.get("k") is not None
            await cache.set("k", entry)

        kept = await bytes_kept_per_command(read_and_write)
    assert kept / 2 < BYTES_PER_COMMAND, kept
