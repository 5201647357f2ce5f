"""Fixtures for the fleet features: every behaviour on the in-memory and the Redis backend.

``shared_redis`` is a ``coredis`` client on the session's Redis server, entered for the
test; ``namespace`` is unique per test, so tests never see each other's keys.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import coredis
import pytest


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it instead of waiting."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def shared_redis(redis_url: str) -> AsyncIterator[Any]:
    async with coredis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture(params=["memory", "redis"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
