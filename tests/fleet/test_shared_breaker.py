"""The circuit breaker with RedisCircuitBackend: one circuit for every process.

Each "process" here is a middleware with a backend of its own on the same Redis (what
two processes have); tests/fleet/test_fleet.py runs real processes.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aether import Aether, CircuitBreakerPolicy, CircuitOpenError, ServerError
from aether.extensions.llm.fake import FakeProvider
from aether.middleware import CircuitBreakerMiddleware, CircuitState, CircuitStateChange
from aether.middleware.circuit_breaker import RedisCircuitBackend
from tests.fleet.conftest import ManualClock

pytestmark = pytest.mark.anyio

KEY = "fake:fake-model"


def process(
    redis: Any,
    namespace: str,
    clock: ManualClock,
    fake: FakeProvider,
    *,
    refresh: float = 1.0,
    changes: list[CircuitStateChange] | None = None,
) -> tuple[Aether, CircuitBreakerMiddleware]:
    policy = CircuitBreakerPolicy(
        failure_threshold=3,
        cooldown=10.0,
        on_state_change=changes.append if changes is not None else None,
    )
    backend = RedisCircuitBackend(
        redis, namespace=namespace, refresh=refresh, clock=clock, fail_open=False
    )
    breaker = CircuitBreakerMiddleware(policy, provider="fake", backend=backend)
    return Aether(fake, stack=[breaker]), breaker


async def test_an_opening_is_seen_by_another_process_within_the_refresh(
    shared_redis: Any, namespace: str, clock: ManualClock
) -> None:
    failing = FakeProvider(responses=[ServerError("down")] * 3)
    healthy = FakeProvider("ok")
    first, _ = process(shared_redis, namespace, clock, failing)
    changes: list[CircuitStateChange] = []
    second, second_breaker = process(shared_redis, namespace, clock, healthy, changes=changes)
    assert await second.ask("hi") == "ok"  # its view: closed, fresh for 1 s
    for _ in range(3):
        with pytest.raises(ServerError):
            await first.ask("hi")
    clock.now += 0.5
    assert await second.ask("hi") == "ok"  # within the bound it may still go
    clock.now += 0.5
    with pytest.raises(CircuitOpenError) as caught:
        await second.ask("hi")
    assert caught.value.retry_after == pytest.approx(9.0)
    assert len(healthy.requests) == 2
    assert second_breaker.state(KEY) is CircuitState.OPEN
    assert [(change.old, change.new) for change in changes] == [
        (CircuitState.CLOSED, CircuitState.OPEN)
    ]


async def test_with_refresh_zero_every_process_sees_it_at_once(
    shared_redis: Any, namespace: str, clock: ManualClock
) -> None:
    first, _ = process(
        shared_redis, namespace, clock, FakeProvider(responses=[ServerError("x")] * 3)
    )
    healthy = FakeProvider("ok")
    second, _ = process(shared_redis, namespace, clock, healthy, refresh=0)
    await second.ask("hi")
    for _ in range(3):
        with pytest.raises(ServerError):
            await first.ask("hi")
    with pytest.raises(CircuitOpenError):
        await second.ask("hi")
    assert len(healthy.requests) == 1


async def test_failures_are_counted_fleet_wide(
    shared_redis: Any, namespace: str, clock: ManualClock
) -> None:
    processes = [
        process(shared_redis, namespace, clock, FakeProvider(responses=[ServerError("x")]))[0]
        for _ in range(3)
    ]
    for client in processes:  # one failure each: three in a row for the circuit
        with pytest.raises(ServerError):
            await client.ask("hi")
    clock.now += 1.0  # the first one's view of the circuit is a second old
    with pytest.raises(CircuitOpenError):
        await processes[0].ask("hi")


async def test_half_open_lets_one_probe_through_fleet_wide(
    shared_redis: Any, namespace: str, clock: ManualClock
) -> None:
    release = anyio.Event()

    async def slow_answer(_: Any) -> str:
        await release.wait()
        return "recovered"

    opener, _ = process(
        shared_redis, namespace, clock, FakeProvider(responses=[ServerError("x")] * 3)
    )
    for _ in range(3):
        with pytest.raises(ServerError):
            await opener.ask("hi")
    clock.now += 10.0
    providers = [FakeProvider(responder=slow_answer) for _ in range(4)]
    clients = [process(shared_redis, namespace, clock, fake)[0] for fake in providers]
    outcomes: list[str] = []

    async def ask(client: Aether) -> None:
        try:
            outcomes.append(await client.ask("hi"))
        except CircuitOpenError:
            outcomes.append("refused")
            if outcomes.count("refused") == 4 * 5 - 1:
                release.set()

    async with anyio.create_task_group() as group:
        for client in clients:
            for _ in range(5):
                group.start_soon(ask, client)
    assert sorted(outcomes) == ["recovered"] + ["refused"] * 19
    assert sum(len(fake.requests) for fake in providers) == 1
    clock.now += 1.0  # another process sees the probe's verdict within its refresh
    assert await clients[1].ask("hi") == "recovered"


async def test_a_probe_lease_of_a_dead_process_runs_out(
    shared_redis: Any, namespace: str, clock: ManualClock
) -> None:
    opener, breaker = process(
        shared_redis, namespace, clock, FakeProvider(responses=[ServerError("x")] * 3)
    )
    for _ in range(3):
        with pytest.raises(ServerError):
            await opener.ask("hi")
    clock.now += 10.0
    assert breaker.backend is not None
    circuit = breaker.backend.circuit(KEY, 3, 10.0)

    async def ignore(_: Any) -> None:
        return None

    probe = await circuit.admit(ignore)  # ...and its process dies holding the lease
    assert probe.probe
    other, _ = process(shared_redis, namespace, clock, FakeProvider("ok"))
    with pytest.raises(CircuitOpenError, match="probe call is testing"):
        await other.ask("hi")
    clock.now += breaker.backend.probe_lease
    assert await other.ask("hi") == "ok"


async def test_a_circuits_key_is_one_hash_tag(shared_redis: Any) -> None:
    backend = RedisCircuitBackend(shared_redis, namespace="app")
    assert backend.shared.key("openai:gpt-4o") == "{app:circuit_breaker:openai:gpt-4o}"


async def test_each_features_record_lands_in_one_cluster_slot(shared_redis: Any) -> None:
    from aether.extensions.redis import hash_slot
    from aether.middleware.budget import RedisBudgetBackend
    from aether.middleware.rate_limit import RedisRateLimitBackend

    limiter = RedisRateLimitBackend(shared_redis, namespace="app").shared
    budget = RedisBudgetBackend(shared_redis, namespace="app").shared
    groups = [
        [limiter.key("openai:gpt-4o", part) for part in ("requests", "tokens")],
        [budget.key("user_id=al}ice{", part) for part in ("ledger", "holds", "held")],
    ]
    assert [len({hash_slot(key) for key in keys}) for keys in groups] == [1, 1]
    assert hash_slot(groups[0][0]) != hash_slot(limiter.key("openai:gpt-4o-mini", "requests"))
