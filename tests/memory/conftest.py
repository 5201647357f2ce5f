"""Fixtures for the session and store tests: a real Redis server when one can be had.

The Redis tests use ``AETHER_TEST_REDIS_URL`` when it is set, or start ``redis-server``
themselves on a free loopback port (temporary directory, no persistence). Without the
binary they skip with a message saying how to run them, except under ``CI=true``, where
they fail: CI installs the server (see ``.ci/run``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.extensions.redis import RedisClient
from aether.testing.redis_server import RedisServer

HOW_TO_RUN = (
    "the Redis tests need redis-server: install it (apt-get install redis-server) or set "
    "AETHER_TEST_REDIS_URL=redis://host:port/db to use a running server"
)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis server for this test run."""
    given = os.environ.get("AETHER_TEST_REDIS_URL")
    if given:
        yield given
        return
    if RedisServer.executable() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Redis tests, but {HOW_TO_RUN}")
        pytest.skip(HOW_TO_RUN)
    with RedisServer() as server:
        yield server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[RedisClient]:
    client = RedisClient(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_store(redis_client: RedisClient) -> RedisSessionStore:
    return RedisSessionStore(redis_client, namespace=f"test-{uuid.uuid4().hex}")


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteSessionStore]:
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    yield store
    await store.aclose()
