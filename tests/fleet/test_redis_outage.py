"""Redis killed mid-run: each shared feature fails open or closed, as configured.

Defaults: the rate limiter fails open (calls go unpaced), the budget fails closed (calls
are refused with SharedStateError), the breaker fails open (each process breaks its
circuits alone). Each test starts its own redis-server, uses it, then stops it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aether import (
    Aether,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ServerError,
    SharedStateError,
)
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.redis import create_redis_client
from aether.middleware import CircuitBreakerMiddleware
from aether.middleware.budget import BudgetMiddleware, BudgetPolicy, RedisBudgetBackend
from aether.middleware.circuit_breaker import RedisCircuitBackend
from aether.middleware.rate_limit import (
    RateLimitMiddleware,
    RateLimitPolicy,
    RedisRateLimitBackend,
)
from aether.testing import redis_server
from aether.testing.redis_server import RedisServer

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.redis,
    pytest.mark.usefixtures("failed_redis_connections"),
    pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning"),
]


class Outage:
    """A Redis server of the test's own, an open client on it, and a way to kill it."""

    def __init__(self, server: RedisServer, client: Any) -> None:
        self.server = server
        self.client = client

    def kill(self) -> None:
        self.server.stop()


@pytest.fixture
async def outage() -> AsyncIterator[Outage]:
    if RedisServer.executable() is None:
        pytest.skip("needs redis-server")
    server = RedisServer()
    server.start()
    try:
        client = create_redis_client(server.url, connect_timeout=0.5, timeout=0.5)
        async with client:
            yield Outage(server, client)
    finally:
        server.stop()


async def no_wait(seconds: float) -> None:
    pass


def limiter(outage: Outage, **options: Any) -> tuple[Aether, FakeProvider, list[float]]:
    waits: list[float] = []

    async def note(seconds: float) -> None:
        waits.append(seconds)

    backend = RedisRateLimitBackend(outage.client, namespace="outage", **options)
    fake = FakeProvider("ok")
    middleware = RateLimitMiddleware(
        RateLimitPolicy(requests_per_minute=1), backend=backend, sleep=note
    )
    return Aether(fake, stack=[middleware]), fake, waits


async def test_the_rate_limiter_fails_open_by_default(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    client, fake, waits = limiter(outage)
    await client.ask("hi")
    await client.ask("hi")
    assert len(waits) == 1  # paced while Redis is up
    outage.kill()
    with caplog.at_level(logging.WARNING, logger="aether.shared_state"):
        for _ in range(3):
            assert await client.ask("hi") == "ok"  # unpaced: the outage stops nothing
    assert len(waits) == 1
    assert len(fake.requests) == 5
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


async def test_the_rate_limiter_can_fail_closed(outage: Outage) -> None:
    client, fake, _ = limiter(outage, fail_open=False)
    await client.ask("hi")
    outage.kill()
    with pytest.raises(SharedStateError) as caught:
        await client.ask("hi")
    assert caught.value.feature == "rate_limit"
    assert "fail_open=True" in str(caught.value)
    assert len(fake.requests) == 1


def budgeted(outage: Outage, **options: Any) -> tuple[Aether, FakeProvider]:
    backend = RedisBudgetBackend(outage.client, namespace="outage", **options)
    fake = FakeProvider("ok")
    return Aether(
        fake, stack=[BudgetMiddleware(BudgetPolicy(max_tokens=1000), backend=backend)]
    ), fake


async def test_the_budget_fails_closed_by_default(outage: Outage) -> None:
    client, fake = budgeted(outage)
    await client.ask("hi")
    outage.kill()
    for _ in range(2):  # the second is refused without trying Redis again
        with pytest.raises(SharedStateError, match="budget"):
            await client.ask("hi")
    assert len(fake.requests) == 1


async def test_the_budget_can_fail_open(outage: Outage) -> None:
    client, fake = budgeted(outage, fail_open=True)
    await client.ask("hi")
    outage.kill()
    assert await client.ask("hi") == "ok"
    assert len(fake.requests) == 2


def breaker(outage: Outage, fake: FakeProvider, **options: Any) -> Aether:
    backend = RedisCircuitBackend(outage.client, namespace="outage", refresh=0, **options)
    middleware = CircuitBreakerMiddleware(
        CircuitBreakerPolicy(failure_threshold=2), provider="fake", backend=backend
    )
    return Aether(fake, stack=[middleware])


async def test_the_breaker_falls_back_to_its_own_circuits_by_default(outage: Outage) -> None:
    fake = FakeProvider(responses=["ok", ServerError("a"), ServerError("b"), "never"])
    client = breaker(outage, fake)
    assert await client.ask("hi") == "ok"
    outage.kill()
    for _ in range(2):
        with pytest.raises(ServerError):
            await client.ask("hi")
    with pytest.raises(CircuitOpenError):  # this process's own circuit opened
        await client.ask("hi")
    assert len(fake.requests) == 3


async def test_the_breaker_can_fail_closed(outage: Outage) -> None:
    fake = FakeProvider("ok")
    client = breaker(outage, fake, fail_open=False)
    await client.ask("hi")
    outage.kill()
    with pytest.raises(SharedStateError, match="circuit breaker"):
        await client.ask("hi")
    assert len(fake.requests) == 1


async def test_features_use_redis_again_once_it_is_back(
    outage: Outage, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    backend = RedisRateLimitBackend(outage.client, namespace="back", retry_interval=1.0)
    backend.shared._clock = lambda: clock[0]
    waits: list[float] = []

    async def note(seconds: float) -> None:
        waits.append(seconds)

    client = Aether(
        FakeProvider("ok"),
        stack=[
            RateLimitMiddleware(RateLimitPolicy(requests_per_minute=1), backend=backend, sleep=note)
        ],
    )
    port = outage.server.port
    outage.kill()
    await client.ask("hi")  # unpaced
    assert not backend.shared.available
    monkeypatch.setattr(redis_server, "_free_port", lambda: port)  # the old server's port
    revived = RedisServer()
    revived.start()
    try:
        clock[0] += 1.0
        await client.ask("hi")
        await client.ask("hi")
        assert len(waits) == 1  # paced again
        assert backend.shared.available
    finally:
        revived.stop()
