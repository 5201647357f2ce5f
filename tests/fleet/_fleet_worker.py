"""One process of the fleet tests: 25 concurrent tasks sharing limits through Redis.

Usage: python -m tests.fleet._fleet_worker BACKEND

The worker prints "ready", then answers one JSON command per stdin line with one JSON
line; ``{"op": "connect", "url": ..., "namespace": ...}`` (a single node or a
``redis+cluster://`` URL) comes first, and again to move to another server. Time is
virtual (see ``_virtual_time``) or set by the parent (``clock``), so no outcome depends
on how fast this machine is.
"""

from __future__ import annotations

import json
import sys
from contextlib import AsyncExitStack
from typing import Any

import anyio

from aether import (
    Aether,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ModelPricing,
    ServerError,
    TokenCounts,
)
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.redis import create_redis_client, release_cluster_layout
from aether.middleware import CircuitBreakerMiddleware, CostTrackingMiddleware
from aether.middleware.budget import (
    BudgetMiddleware,
    BudgetPolicy,
    KeyBudgetExceededError,
    RedisBudgetBackend,
)
from aether.middleware.circuit_breaker import RedisCircuitBackend
from aether.middleware.rate_limit import (
    RateLimitMiddleware,
    RateLimitPolicy,
    RedisRateLimitBackend,
)
from aether.pricing import Pricer
from aether.usage import Usage
from tests.fleet import _virtual_time as virtual_time

TASKS = 25
STRICT = {"fail_open": False, "timeout": 30.0}
"""A loaded machine may be slow, never "down": any Redis failure fails the test loudly."""
PRICES = {"m": ModelPricing(input_per_mtok=1000, output_per_mtok=1000)}  # $0.001 a token


class Worker:
    def __init__(self, redis: Any, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self.now = 1000.0
        breaker = CircuitBreakerMiddleware(
            CircuitBreakerPolicy(failure_threshold=3, cooldown=10.0),
            provider="fake",
            backend=RedisCircuitBackend(
                redis, namespace=namespace, clock=lambda: self.now, **STRICT
            ),
        )
        self.failing = False
        self.breaker_requests = 0
        self.breaker_client = Aether(FakeProvider(responder=self._answer), stack=[breaker])

    def _answer(self, _: Any) -> Any:
        self.breaker_requests += 1
        return ServerError("down") if self.failing else "ok"

    async def rate(self, command: dict[str, Any]) -> dict[str, Any]:
        arrivals: list[float] = []

        def answer(_: Any) -> str:
            arrivals.append(virtual_time.clock())
            return "ok"

        limiter = RateLimitMiddleware(
            RateLimitPolicy(requests_per_minute=command["rpm"]),
            backend=RedisRateLimitBackend(
                self.redis, namespace=self.namespace, clock=virtual_time.clock, **STRICT
            ),
            sleep=virtual_time.sleep,
        )
        client = Aether(FakeProvider(responder=answer), stack=[limiter])

        async def task() -> None:
            for _ in range(command["calls"]):
                await client.ask("hi")

        virtual_time.set_time(0.0)
        async with anyio.create_task_group() as group:
            for _ in range(TASKS):
                group.start_soon(task)
        return {"arrivals": arrivals}

    async def budget(self, command: dict[str, Any]) -> dict[str, Any]:
        pricer = Pricer(PRICES)
        usage = Usage()
        budget = BudgetMiddleware(
            BudgetPolicy(max_cost_usd=command["budget_usd"]),
            backend=RedisBudgetBackend(self.redis, namespace=self.namespace, **STRICT),
            pricer=pricer,
        )
        fake = FakeProvider("one two three four", default_model="m", delay=0.001)
        client = Aether(fake, stack=[budget, CostTrackingMiddleware(usage, pricer=pricer)])
        refused = 0

        async def task() -> None:
            nonlocal refused
            while True:
                try:
                    await client.ask("hello there", model="m", max_tokens=10)
                except KeyBudgetExceededError:
                    refused += 1
                    return

        async with anyio.create_task_group() as group:
            for _ in range(TASKS):
                group.start_soon(task)
        return {
            "spent_usd": usage.total_cost_usd,
            "calls": len(fake.requests),
            "refused": refused,
            "reservation_usd": pricer.price("m", TokenCounts(input=3, output=10)),
        }

    async def breaker(self, command: dict[str, Any]) -> dict[str, Any]:
        self.failing = command["fail"]
        before = self.breaker_requests
        outcomes: dict[str, int] = {"ok": 0, "failed": 0, "refused": 0}

        async def task() -> None:
            try:
                await self.breaker_client.ask("hi")
                outcomes["ok"] += 1
            except ServerError:
                outcomes["failed"] += 1
            except CircuitOpenError:
                outcomes["refused"] += 1

        async with anyio.create_task_group() as group:
            for _ in range(TASKS):
                group.start_soon(task)
        return {**outcomes, "provider_calls": self.breaker_requests - before}

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        if command["op"] == "clock":
            self.now = command["now"]
            return {}
        handler = getattr(self, command["op"])
        result: dict[str, Any] = await handler(command)
        return result


async def main() -> None:
    print("ready", flush=True)
    async with AsyncExitStack() as stack:
        worker: Worker | None = None
        while line := await anyio.to_thread.run_sync(sys.stdin.readline):
            command = json.loads(line)
            if command["op"] == "connect":
                await stack.aclose()
                client = create_redis_client(command["url"])
                stack.callback(release_cluster_layout, client)  # after the client closes
                await stack.enter_async_context(client)
                worker = Worker(client, command["namespace"])
                print("{}", flush=True)
                continue
            assert worker is not None, "send a connect command first"
            print(json.dumps(await worker.run(command)), flush=True)


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1])
