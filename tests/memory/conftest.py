"""Fixtures for the session and store tests.

The Redis server fixtures (``redis_url``, ``redis_client``) live in ``tests/conftest.py``,
shared with the cache tests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.extensions.redis import CoredisClient


@pytest.fixture
async def redis_store(redis_client: CoredisClient) -> RedisSessionStore:
    return RedisSessionStore(redis_client, namespace=f"test-{uuid.uuid4().hex}")


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteSessionStore]:
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    yield store
    await store.aclose()
