"""Issue 18: a large history loads in time proportional to its size, on the client in use.

Aether's first Redis client re-parsed a reply from its first byte each time more bytes
arrived, so loading a history cost time quadratic in its size (a 40,000-message session
of 12 MB froze the event loop for 4.9 s). These tests measure work, not wall time: the
CPU time of this thread (the event loop's) while reading a history of 10,000 and of
40,000 messages (linear work makes the second about 4 times the first, quadratic 16),
and the ticks of a heartbeat task while 12 MB arrive.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel
import pytest

from aether.extensions.memory.redis import RedisSessionStore
from aether.llm.contracts import Message
from aether.memory.codec import encode_message

pytestmark = pytest.mark.redis

SMALL, LARGE = 10_000, 40_000
STORED = encode_message(Message(role="user", content="x" * 260))  # about 300 bytes


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisSessionStore]:
    """A store holding sessions "small" and "large" (pushed raw: saving is not measured)."""
    async with RedisSessionStore(redis_url, namespace=f"test-{uuid.uuid4().hex}") as store:
        for session_id, size in (("small", SMALL), ("large", LARGE)):
            for _ in range(size // 1000):
                await store.redis.rpush(store.key(session_id), [STORED] * 1000)
        yield store
        await store.delete("small")
        await store.delete("large")


async def cpu_seconds_to_read(store: RedisSessionStore, session_id: str, size: int) -> float:
    """The least thread CPU time of three reads (the least is the one least disturbed)."""
    samples = []
    for _ in range(3):
        gc.collect()
        gc.disable()
        try:
            started = time.thread_time()
            items = await store.redis.lrange(store.key(session_id), 0, -1)
            samples.append(time.thread_time() - started)
        finally:
            gc.enable()
        assert len(items) == size
    return min(samples)


async def test_reading_a_large_history_costs_work_proportional_to_its_size(
    store: RedisSessionStore,
) -> None:
    small = await cpu_seconds_to_read(store, "small", SMALL)
    large = await cpu_seconds_to_read(store, "large", LARGE)
    assert large / small < 8, f"4x the messages cost {large / small:.1f}x the work"


async def test_other_tasks_run_while_a_large_history_loads(store: RedisSessionStore) -> None:
    ticks = 0
    loaded = anyio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not loaded.is_set():
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(heartbeat)
        await anyio.lowlevel.checkpoint()
        ticks = 0
        history = await store.load("large")
        loaded.set()
    assert len(history) == LARGE
    # 12 MB arrive in reads of 64 KB or so: the heartbeat runs between them.
    assert ticks >= 20
