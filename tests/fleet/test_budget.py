"""BudgetMiddleware: per-key dollars and tokens, reservations, periods; both backends."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import pytest

from aether import (
    Aether,
    ConfigurationError,
    ImagePart,
    LLMResponse,
    MiddlewareError,
    ModelPricing,
    ServerError,
)
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.budget import (
    BudgetLimits,
    BudgetMiddleware,
    BudgetPolicy,
    InMemoryBudgetBackend,
    KeyBudgetExceededError,
    RedisBudgetBackend,
)
from aether.middleware.cost import CostTrackingMiddleware
from aether.pricing import Pricer
from aether.usage import Usage
from tests.fleet.conftest import ManualClock

pytestmark = pytest.mark.anyio

# $1 per thousand tokens, input and output alike: a call's price is its tokens / 1000.
PRICES = {"m": ModelPricing(input_per_mtok=1000, output_per_mtok=1000)}


@pytest.fixture
def backend(backend_kind: str, clock: ManualClock, request: pytest.FixtureRequest) -> Any:
    if backend_kind == "memory":
        return InMemoryBudgetBackend(clock=clock)
    return RedisBudgetBackend(
        request.getfixturevalue("shared_redis"),
        namespace=request.getfixturevalue("namespace"),
        clock=clock,
    )


def budgeted(backend: Any, fake: FakeProvider, **policy: Any) -> tuple[Aether, Usage]:
    pricer = Pricer(PRICES)
    usage = Usage()
    middleware = BudgetMiddleware(BudgetPolicy(**policy), backend=backend, pricer=pricer)
    return Aether(fake, stack=[middleware, CostTrackingMiddleware(usage, pricer=pricer)]), usage


def test_policy_reports_every_problem() -> None:
    with pytest.raises(ConfigurationError) as caught:
        BudgetPolicy(max_cost_usd=-1, period=0)
    assert len(caught.value.problems) == 2
    with pytest.raises(ConfigurationError, match=r"max_cost_usd=\.\.\., max_tokens=\.\.\."):
        BudgetPolicy(per="user_id")


async def test_concurrent_calls_cannot_overshoot_together(backend: Any) -> None:
    # Each call costs 6 tokens ($0.006) and reserves 3 + 10 ($0.013).
    fake = FakeProvider("one two three four", default_model="m", delay=0.001)
    client, usage = budgeted(backend, fake, max_cost_usd=0.5)
    refused = 0

    async def one() -> None:
        nonlocal refused
        try:
            await client.ask("hello there", max_tokens=10, model="m")
        except KeyBudgetExceededError:
            refused += 1

    async with anyio.create_task_group() as group:
        for _ in range(100):
            group.start_soon(one)
    assert 0.5 <= usage.total_cost_usd <= 0.5 + 0.013
    assert usage.total_requests + refused == 100
    assert len(fake.requests) == usage.total_requests


async def test_a_spent_key_is_refused_before_anything_is_sent(backend: Any) -> None:
    fake = FakeProvider("one two", default_model="m")
    client, _ = budgeted(backend, fake, max_tokens=12, per="user_id")
    await client.ask("a b c", model="m", context={"user_id": "alice"})  # 3 + 2 tokens
    await client.ask("a b c", model="m", context={"user_id": "alice"})
    await client.ask("a b c", model="m", context={"user_id": "alice"})  # alone: 15 of 12
    with pytest.raises(KeyBudgetExceededError) as caught:
        await client.ask("a b c", model="m", context={"user_id": "alice"})
    assert (caught.value.key, caught.value.spent_tokens, caught.value.budget_tokens) == (
        "user_id=alice",
        15,
        12,
    )
    assert len(fake.requests) == 3
    await client.ask("a b c", model="m", context={"user_id": "bob"})  # bob has his own


async def test_a_request_without_the_key_is_refused_with_the_fix() -> None:
    client, _ = budgeted(None, FakeProvider("ok"), max_tokens=10, per="user_id")
    with pytest.raises(MiddlewareError, match=r"context=\{'user_id': \.\.\.\}"):
        await client.ask("hi")


async def test_a_period_starts_every_key_afresh(backend: Any, clock: ManualClock) -> None:
    fake = FakeProvider("one", default_model="m")
    pricer = Pricer(PRICES)
    middleware = BudgetMiddleware(
        BudgetPolicy(max_tokens=2, period=86400), backend=backend, pricer=pricer, clock=clock
    )
    client = Aether(fake, stack=[middleware])
    clock.now = 86400 * 10 + 5
    await client.ask("a", model="m")
    with pytest.raises(KeyBudgetExceededError):
        await client.ask("a", model="m")
    clock.now += 86400
    await client.ask("a", model="m")
    assert middleware.key_for(client.request("a")) == "all@11"


async def test_a_reservation_of_a_dead_process_expires(backend: Any, clock: ManualClock) -> None:
    limits = BudgetLimits(max_tokens=100, max_cost_usd=None)
    first = await backend.reserve("k", tokens=90, usd=0.0, limits=limits, hold=30, ttl=None)
    assert first.outcome == "admitted"  # ...and its process dies without settling
    second = await backend.reserve("k", tokens=90, usd=0.0, limits=limits, hold=30, ttl=None)
    assert second.outcome == "wait"
    clock.now += 31
    third = await backend.reserve("k", tokens=90, usd=0.0, limits=limits, hold=30, ttl=None)
    assert third.outcome == "admitted"
    await backend.settle("k", str(first.reservation), tokens=5, cost_usd=None, billed=True)
    ledger = await backend.ledger("k")
    assert (ledger.tokens, ledger.in_flight, ledger.reserved_tokens, ledger.unpriced_calls) == (
        5,
        1,
        90,
        1,
    )


async def test_a_waiting_call_goes_once_a_call_in_flight_settles(backend: Any) -> None:
    release, entered = anyio.Event(), anyio.Event()

    async def answer(_: Any) -> LLMResponse:
        entered.set()
        await release.wait()
        return LLMResponse(text="x", model="m", input_tokens=1, output_tokens=1)

    fake = FakeProvider(responder=answer)
    client, usage = budgeted(backend, fake, max_tokens=1000)
    async with anyio.create_task_group() as group:
        group.start_soon(partial(client.ask, "a" * 2000, max_tokens=100))  # reserves 600
        await entered.wait()
        group.start_soon(client.ask, "a" * 2000)  # 500 + 512 more does not fit: waits
        await anyio.sleep(0.05)
        assert len(fake.requests) == 1
        release.set()
    assert usage.total_requests == 2


async def test_a_stream_stopped_early_is_charged_an_estimate(backend: Any) -> None:
    fake = FakeProvider("one two three four five six", default_model="m", words_per_chunk=1)
    client, _ = budgeted(backend, fake, max_cost_usd=1.0)
    stream = client.stream("abcdefgh", model="m")
    async for _ in stream:
        break
    await stream.aclose()
    ledger = await budget_of(client).ledger("all")
    # 2 prompt tokens + the 4 characters received ("one "): 1 token, priced.
    assert (ledger.tokens, ledger.calls, ledger.in_flight) == (3, 1, 0)
    assert ledger.cost_usd == pytest.approx(0.003)


async def test_an_image_in_a_stopped_stream_is_charged_aethers_estimate(backend: Any) -> None:
    fake = FakeProvider("one two three four five six", default_model="m", words_per_chunk=1)
    client, _ = budgeted(backend, fake, max_cost_usd=10.0)
    image = ImagePart(data=b"\x89PNG\r\n\x1a\n" + bytes(8))
    stream = client.stream(["abcdefgh", image], model="m")
    async for _ in stream:
        break
    await stream.aclose()
    ledger = await budget_of(client).ledger("all")
    # 2 text tokens and 1,600 for the image, + 1 token received ("one ").
    assert ledger.tokens == 2 + 1_600 + 1


def budget_of(client: Aether) -> BudgetMiddleware:
    layer = client.pipeline._layers[0].call
    owner = getattr(layer, "__self__", None)
    assert isinstance(owner, BudgetMiddleware)
    return owner


async def test_a_failed_call_is_not_charged_and_frees_its_reservation(backend: Any) -> None:
    fake = FakeProvider(responses=[ServerError("down")], default_model="m")
    client, _ = budgeted(backend, fake, max_tokens=100)
    with pytest.raises(ServerError):
        await client.ask("hi", model="m")
    ledger = await budget_of(client).ledger("all")
    assert (ledger.calls, ledger.tokens, ledger.in_flight, ledger.reserved_tokens) == (0, 0, 0, 0)


async def test_a_cancelled_call_frees_its_reservation(backend: Any) -> None:
    client, _ = budgeted(backend, FakeProvider("slow", delay=5), max_tokens=10_000)
    with anyio.move_on_after(0.05):
        await client.ask("hi")
    ledger = await budget_of(client).ledger("all")
    assert (ledger.calls, ledger.in_flight, ledger.reserved_tokens) == (0, 0, 0)


async def test_a_model_without_a_price_counts_tokens_and_is_flagged(backend: Any) -> None:
    client, _ = budgeted(backend, FakeProvider("a b", default_model="unknown-x"), max_tokens=100)
    await client.ask("hi", model="unknown-x")
    ledger = await budget_of(client).ledger("all")
    assert (ledger.tokens, ledger.unpriced_calls, ledger.cost_usd) == (3, 1, 0.0)
