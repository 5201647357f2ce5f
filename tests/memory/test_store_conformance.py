"""The conformance suite, run against every store Aether ships (and a minimal one)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from aether.extensions.memory import InMemorySessionStore
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import Message
from aether.testing.store_conformance import SessionStoreConformance


class MinimalStore:
    """The spec's four methods and nothing more: a user's first store."""

    def __init__(self) -> None:
        self.data: dict[str, list[Message]] = {}

    async def load(self, session_id: str) -> list[Message]:
        return list(self.data.get(session_id, []))

    async def save(self, session_id: str, messages: list[Message]) -> None:
        if messages:
            self.data[session_id] = list(messages)
        else:
            self.data.pop(session_id, None)

    async def delete(self, session_id: str) -> None:
        self.data.pop(session_id, None)

    async def exists(self, session_id: str) -> bool:
        return session_id in self.data


class TestInMemorySessionStore(SessionStoreConformance):
    @pytest.fixture
    async def store(self) -> InMemorySessionStore:
        return InMemorySessionStore()


class TestSQLiteSessionStore(SessionStoreConformance):
    @pytest.fixture
    async def store(self, sqlite_store: SQLiteSessionStore) -> SQLiteSessionStore:
        return sqlite_store


@pytest.mark.redis
class TestRedisSessionStore(SessionStoreConformance):
    @pytest.fixture
    async def store(self, redis_store: RedisSessionStore) -> RedisSessionStore:
        return redis_store


@pytest.mark.redis
class TestRedisSessionStoreOnACluster(SessionStoreConformance):
    @pytest.fixture
    async def store(self, redis_cluster_url: str) -> AsyncIterator[RedisSessionStore]:
        namespace = f"test-{uuid.uuid4().hex}"
        async with RedisSessionStore(redis_cluster_url, namespace=namespace) as store:
            yield store


class TestMinimalStore(SessionStoreConformance):
    @pytest.fixture
    async def store(self) -> MinimalStore:
        return MinimalStore()
