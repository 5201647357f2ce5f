"""What sharing limits through Redis costs a call, and how fast the shared limiter goes.

Each shared feature alone in a pipeline in front of the Fake provider, on asyncio and
trio, with its in-memory backend and with its Redis backend on a local redis-server
(loopback). Limits are set so nothing is refused or made to wait: the happy path.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio

from aether import LLMRequest, Message, ModelPricing, Pipeline
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
from aether.pricing import Pricer
from aether.testing.redis_server import RedisServer
from benchmarks._harness import BACKENDS, Row, cli

TITLE = "Fleet: shared rate limits, budgets and breaker state"
NOTES = """
Time per call added to the bare Fake provider by each feature, wall clock, median of
five runs in fresh event loops (each after a warm-up), Redis on a local `redis-server`
over loopback. The Redis rows are what the fleet features cost; their ratio is to a
`PING` round trip measured just before each of them (on this shared machine a round
trip's time varies by 2× between runs, so the ratio, round trips per call, is the
steadier figure; the target is one). The breaker with its default `refresh=1` reads Redis at
most once a second per circuit, so its happy path costs no round trip; `refresh=0` reads
it on every call. Throughput: 100 concurrent callers in one process through the Redis
limiter, with limits that never bind, decisions per second.
"""

REQUEST = LLMRequest(
    messages=(Message(role="user", content="Summarise the meeting notes, please."),),
    model="m",
)
PRICES = {"m": ModelPricing(input_per_mtok=0.1, output_per_mtok=0.1)}
HUGE = RateLimitPolicy(requests_per_minute=1e12, tokens_per_minute=1e15)

Layer = Callable[[Any, str], object] | None


def cases() -> dict[str, Layer]:
    def breaker(refresh: float) -> Layer:
        return lambda redis, ns: CircuitBreakerMiddleware(
            provider="fake", backend=RedisCircuitBackend(redis, namespace=ns, refresh=refresh)
        )

    return {
        "rate limit, in memory": lambda redis, ns: RateLimitMiddleware(HUGE),
        "rate limit, Redis": lambda redis, ns: RateLimitMiddleware(
            HUGE, backend=RedisRateLimitBackend(redis, namespace=ns)
        ),
        "budget, in memory": lambda redis, ns: BudgetMiddleware(
            BudgetPolicy(max_cost_usd=1e12), pricer=Pricer(PRICES)
        ),
        "budget, Redis": lambda redis, ns: BudgetMiddleware(
            BudgetPolicy(max_cost_usd=1e12),
            backend=RedisBudgetBackend(redis, namespace=ns),
            pricer=Pricer(PRICES),
        ),
        "breaker, in memory": lambda redis, ns: CircuitBreakerMiddleware(provider="fake"),
        "breaker, Redis (refresh=1 s)": breaker(1.0),
        "breaker, Redis (refresh=0)": breaker(0.0),
    }


def per_call(url: str, layer: Layer, *, n: int, backend: str) -> float:
    """Median wall seconds per call through ``layer`` (``None``: the bare provider)."""
    samples = []

    async def one_run() -> float:
        async with create_redis_client(url) as redis:
            namespace = f"bench-{time.monotonic_ns()}"
            stack = [layer(redis, namespace)] if layer is not None else []
            pipeline = Pipeline(stack, FakeProvider("ok", default_model="m"))
            for _ in range(50):
                await pipeline.complete(REQUEST)
            started = time.perf_counter()
            for _ in range(n):
                await pipeline.complete(REQUEST)
            return (time.perf_counter() - started) / n

    for _ in range(5):
        samples.append(anyio.run(one_run, backend=backend))
    return statistics.median(samples)


def ping(url: str, *, n: int, backend: str) -> float:
    async def one_run() -> float:
        async with create_redis_client(url) as redis:
            for _ in range(50):
                await redis.ping()
            started = time.perf_counter()
            for _ in range(n):
                await redis.ping()
            return (time.perf_counter() - started) / n

    return statistics.median(anyio.run(one_run, backend=backend) for _ in range(5))


def throughput(url: str, *, calls: int, backend: str) -> float:
    """Calls per second through the Redis limiter with 100 concurrent callers."""

    async def one_run() -> float:
        async with create_redis_client(url, max_connections=100) as redis:
            limiter = RateLimitMiddleware(
                HUGE, backend=RedisRateLimitBackend(redis, namespace=f"bench-{time.time_ns()}")
            )
            pipeline = Pipeline([limiter], FakeProvider("ok", default_model="m"))

            async def caller(count: int) -> None:
                for _ in range(count):
                    await pipeline.complete(REQUEST)

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(100):
                    group.start_soon(caller, calls // 100)
            return calls / (time.perf_counter() - started)

    return statistics.median(anyio.run(one_run, backend=backend) for _ in range(3))


def run(quick: bool) -> list[Row]:
    n = 200 if quick else 2_000
    rows: list[Row] = []
    with RedisServer() as server:
        for backend in BACKENDS:
            bare = per_call(server.url, None, n=n, backend=backend)
            added_rows, pings = [], []
            for case, layer in cases().items():
                redis = "Redis" in case
                count = n // 4 if redis else n
                # A PING measured just before each Redis case: its ratio is round trips.
                round_trip = ping(server.url, n=count, backend=backend) if redis else None
                value = max(0.0, per_call(server.url, layer, n=count, backend=backend) - bare)
                ratio = value / round_trip if round_trip else None
                added_rows.append(Row(f"added: {case}", backend, value, "s", ratio=ratio))
                if round_trip:
                    pings.append(round_trip)
            rows.append(Row("call, bare Fake provider", backend, bare, "s"))
            median_ping = statistics.median(pings)
            rows.append(Row("one Redis round trip (PING), median", backend, median_ping, "s"))
            rows += added_rows
            rate = throughput(server.url, calls=2_000 if quick else 20_000, backend=backend)
            rows.append(Row("Redis limiter, 100 concurrent callers", backend, rate, "calls/s"))
    return rows


if __name__ == "__main__":
    cli(run)
