"""RateLimitMiddleware: waiting turns, token corrections, cancellation; both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from aether import Aether, ConfigurationError, ImagePart, LLMRequest, LLMResponse, Message
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.rate_limit import (
    InMemoryRateLimitBackend,
    RateLimitBackend,
    RateLimitMiddleware,
    RateLimitPolicy,
    RedisRateLimitBackend,
    estimate_tokens,
)
from tests.fleet import _virtual_time as virtual_time
from tests.fleet.conftest import ManualClock

pytestmark = pytest.mark.anyio


def make_backend(kind: str, clock: Callable[[], float], request: pytest.FixtureRequest) -> Any:
    if kind == "memory":
        return InMemoryRateLimitBackend(clock=clock)
    redis = request.getfixturevalue("shared_redis")
    return RedisRateLimitBackend(redis, namespace=request.getfixturevalue("namespace"), clock=clock)


@pytest.fixture
def backend(backend_kind: str, clock: ManualClock, request: pytest.FixtureRequest) -> Any:
    return make_backend(backend_kind, clock, request)


@pytest.fixture
def virtual_backend(backend_kind: str, request: pytest.FixtureRequest) -> Any:
    return make_backend(backend_kind, virtual_time.clock, request)


def limited(
    backend: RateLimitBackend, clock: ManualClock, fake: FakeProvider, **policy: Any
) -> Aether:
    middleware = RateLimitMiddleware(
        RateLimitPolicy(**policy), backend=backend, provider="fake", sleep=clock.sleep
    )
    return Aether(fake, stack=[middleware])


def test_policy_reports_every_problem() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RateLimitPolicy(requests_per_minute=-1, burst_seconds=0)
    assert len(caught.value.problems) == 2
    with pytest.raises(ConfigurationError, match=r"requests_per_minute=\.\.\., tokens_per_minute"):
        RateLimitPolicy()


async def test_calls_wait_their_turn_instead_of_failing(backend: Any, clock: ManualClock) -> None:
    fake = FakeProvider("ok")
    client = limited(backend, clock, fake, requests_per_minute=60)
    for _ in range(4):
        assert await client.ask("hi") == "ok"
    assert clock.sleeps == pytest.approx([1.0, 1.0, 1.0])
    assert len(fake.requests) == 4


async def test_burst_seconds_lets_a_seconds_worth_go_at_once(
    backend: Any, clock: ManualClock
) -> None:
    client = limited(backend, clock, FakeProvider("ok"), requests_per_minute=600, burst_seconds=1)
    for _ in range(12):
        await client.ask("hi")
    # 10 requests a second: ten go at once, then one every 0.1 s.
    assert clock.sleeps == pytest.approx([0.1, 0.1])


async def test_concurrent_callers_are_spaced_by_the_limit(virtual_backend: Any) -> None:
    arrivals: list[float] = []

    def answer(_: Any) -> str:
        arrivals.append(virtual_time.clock())
        return "ok"

    virtual_time.set_time(1000.0)
    middleware = RateLimitMiddleware(
        RateLimitPolicy(requests_per_minute=120),  # one every 0.5 s, a burst of 2
        backend=virtual_backend,
        sleep=virtual_time.sleep,
    )
    client = Aether(FakeProvider(responder=answer), stack=[middleware])
    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(client.ask, "hi")
    assert sorted(arrivals) == pytest.approx([1000.0] + [1000.0 + 0.5 * n for n in range(9)])


async def test_token_estimates_are_corrected_from_usage(backend: Any, clock: ManualClock) -> None:
    fake = FakeProvider(
        responses=[LLMResponse(text="a", model="m", input_tokens=5, output_tokens=5)] * 3
    )
    client = limited(backend, clock, fake, tokens_per_minute=600)  # 10 tokens a second
    # Each call estimates 1 + 100 = 101 tokens but uses 10: the 91 over is given back,
    # so the next waits 1 s for the 10 used, not 10.1 s for the 101 estimated.
    await client.ask("hi", max_tokens=100)
    await client.ask("hi", max_tokens=100)
    await client.ask("hi", max_tokens=100)
    assert clock.sleeps == pytest.approx([1.0, 1.0])


async def test_an_underestimate_makes_later_calls_wait(backend: Any, clock: ManualClock) -> None:
    fake = FakeProvider(
        responses=[LLMResponse(text="a", model="m", input_tokens=100, output_tokens=100)] * 2
    )
    client = limited(backend, clock, fake, tokens_per_minute=600, burst_seconds=30)
    await client.ask("hi")  # estimated 1 token, used 200: the other 199 taken afterwards
    await client.ask("hi")
    assert clock.sleeps == []  # each fit its 1-token estimate into the 300-token burst
    fake.add_responses(LLMResponse(text="a", model="m", input_tokens=1, output_tokens=1))
    # 400 used, so 100 in debt: 200 estimated tokens fit once 300 more have come back,
    # 30 s at 10 a second (without the correction it would not wait at all).
    await client.ask("hi" * 400)
    assert clock.sleeps == pytest.approx([30.0])


async def test_streams_are_corrected_from_their_final_chunk(
    backend: Any, clock: ManualClock
) -> None:
    fake = FakeProvider("one two three")
    client = limited(backend, clock, fake, tokens_per_minute=60)  # a token a second
    async for _ in client.stream("hi", max_tokens=50):
        pass
    # Estimated 51, the final chunk reports 1 + 3 = 4: the next call waits for those 4
    # tokens to come back, not for 51.
    async for _ in client.stream("hi", max_tokens=3):
        pass
    assert clock.sleeps == pytest.approx([4.0])


async def test_a_call_cancelled_while_waiting_gives_its_turn_back(
    backend: Any, clock: ManualClock
) -> None:
    async def never_wakes(seconds: float) -> None:
        clock.sleeps.append(seconds)
        await anyio.sleep_forever()

    middleware = RateLimitMiddleware(
        RateLimitPolicy(requests_per_minute=60), backend=backend, sleep=never_wakes
    )
    client = Aether(FakeProvider("ok"), stack=[middleware])
    await client.ask("hi")
    with anyio.move_on_after(0.05):
        await client.ask("hi")  # booked for one second from now, then cancelled
    clock.now += 1.0
    await client.ask("hi")  # the cancelled booking was given back: no wait
    assert clock.sleeps == pytest.approx([1.0])


async def test_limits_are_kept_per_provider_and_model(backend: Any, clock: ManualClock) -> None:
    client = limited(backend, clock, FakeProvider("ok"), requests_per_minute=60)
    await client.ask("hi", model="a")
    await client.ask("hi", model="b")
    assert clock.sleeps == []
    await client.ask("hi", model="a")
    assert clock.sleeps == pytest.approx([1.0])


async def test_redis_schedules_on_the_servers_clock(shared_redis: Any, namespace: str) -> None:
    waits: list[float] = []

    async def note(seconds: float) -> None:
        waits.append(seconds)

    middleware = RateLimitMiddleware(
        RateLimitPolicy(requests_per_minute=1),
        backend=RedisRateLimitBackend(shared_redis, namespace=namespace, fail_open=False),
        sleep=note,
    )
    client = Aether(FakeProvider("ok"), stack=[middleware])
    await client.ask("hi")
    await client.ask("hi")
    assert len(waits) == 1
    assert 55.0 < waits[0] <= 60.0


async def test_a_keys_limits_share_one_hash_tag(shared_redis: Any) -> None:
    backend = RedisRateLimitBackend(shared_redis, namespace="app")
    requests = backend.shared.key("openai:{gpt}", "requests")
    tokens = backend.shared.key("openai:{gpt}", "tokens")
    assert requests == "{app:rate_limit:openai:%7Bgpt%7D}:requests"
    assert tokens.split("}")[0] == requests.split("}")[0]


def test_the_estimate_counts_an_image_as_aethers_estimate_for_it() -> None:
    image = ImagePart(data=b"\x89PNG\r\n\x1a\n" + bytes(8))
    message = Message(role="user", content=["x" * 9, image])
    assert estimate_tokens(LLMRequest(messages=(message,), max_tokens=10)) == 3 + 1_600 + 10
