"""The rate limiter recipe: waits (never fails), in arrival order, on an injected clock."""

from __future__ import annotations

from functools import partial

import anyio
import pytest

from aether import (
    Aether,
    EventBus,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    RetryPolicy,
    ToolCall,
)
from aether.errors import ServerError
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.events import EventsMiddleware
from aether.middleware.retry import RetryMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware
from middleware.rate_limit import RateLimitMiddleware, TokenBucket, estimate_tokens

from ._doubles import ManualClock


def fake_using(tokens: int) -> FakeProvider:
    return FakeProvider(
        responder=lambda request: LLMResponse(
            text="ok", model="fake-model", input_tokens=tokens - 1, output_tokens=1
        )
    )


def limited(fake: FakeProvider, clock: ManualClock, **limits: float) -> Aether:
    limiter = RateLimitMiddleware(clock=clock, sleep=clock.sleep, **limits)
    return Aether(fake, stack=[limiter])


def prompts(fake: FakeProvider) -> list[str]:
    return [request.messages[-1].content for request in fake.requests]


async def test_calls_within_the_limit_do_not_wait(clock: ManualClock) -> None:
    fake = FakeProvider("ok")
    client = limited(fake, clock, requests_per_minute=3)
    for _ in range(3):
        await client.ask("hi")
    assert clock.sleeps == []
    assert len(fake.requests) == 3


async def test_call_over_the_request_limit_waits_instead_of_failing(clock: ManualClock) -> None:
    fake = FakeProvider("ok")
    client = limited(fake, clock, requests_per_minute=2)
    await client.ask("one")
    await client.ask("two")
    async with anyio.create_task_group() as group:
        group.start_soon(client.ask, "three")
        await anyio.wait_all_tasks_blocked()
        assert prompts(fake) == ["one", "two"]
        assert clock.sleeps == [pytest.approx(30.0)]
        await clock.advance(29.9)
        assert len(fake.requests) == 2
        await clock.advance(0.1)
    assert prompts(fake) == ["one", "two", "three"]


async def test_stream_over_the_request_limit_waits_instead_of_failing(clock: ManualClock) -> None:
    fake = FakeProvider("streamed words")
    client = limited(fake, clock, requests_per_minute=1)
    received: list[str] = []

    async def read(prompt: str) -> None:
        received.append("".join([delta async for delta in client.stream_text(prompt)]))

    await read("one")
    async with anyio.create_task_group() as group:
        group.start_soon(read, "two")
        await anyio.wait_all_tasks_blocked()
        assert received == ["streamed words"]
        await clock.advance(60)
    assert received == ["streamed words", "streamed words"]
    assert clock.sleeps == [pytest.approx(60.0)]


async def test_waiting_calls_go_in_arrival_order(clock: ManualClock) -> None:
    fake = FakeProvider("ok")
    client = limited(fake, clock, requests_per_minute=1)
    await client.ask("first")
    async with anyio.create_task_group() as group:
        for name in ("a", "b", "c"):
            group.start_soon(client.ask, name)
            await anyio.wait_all_tasks_blocked()
        assert prompts(fake) == ["first"]
        for expected in (["first", "a"], ["first", "a", "b"], ["first", "a", "b", "c"]):
            await clock.advance(60)
            assert prompts(fake) == expected


async def test_token_limit_waits_for_the_bucket_to_refill(clock: ManualClock) -> None:
    fake = fake_using(tokens=40)
    limiter = RateLimitMiddleware(
        tokens_per_minute=100, estimate=lambda request: 40, clock=clock, sleep=clock.sleep
    )
    client = Aether(fake, stack=[limiter])
    await client.ask("one")
    await client.ask("two")
    async with anyio.create_task_group() as group:
        group.start_soon(client.ask, "three")
        await anyio.wait_all_tasks_blocked()
        # 20 tokens left, 40 needed, 100/60 tokens a second flow in: 12 s.
        assert clock.sleeps == [pytest.approx(12.0)]
        await clock.advance(12)
    assert prompts(fake) == ["one", "two", "three"]


async def test_an_over_estimate_is_given_back(clock: ManualClock) -> None:
    fake = fake_using(tokens=10)
    limiter = RateLimitMiddleware(
        tokens_per_minute=100, estimate=lambda request: 40, clock=clock, sleep=clock.sleep
    )
    client = Aether(fake, stack=[limiter])
    for _ in range(6):
        await client.ask("hi")
    assert clock.sleeps == []


async def test_tokens_given_back_wake_the_waiting_call(clock: ManualClock) -> None:
    released = anyio.Event()
    sent: list[str] = []

    async def answer(request: LLMRequest) -> LLMResponse:
        prompt = request.messages[-1].content
        sent.append(prompt)
        if prompt == "long":
            await released.wait()
        return LLMResponse(text="ok", model="fake-model", input_tokens=5, output_tokens=5)

    limiter = RateLimitMiddleware(
        tokens_per_minute=100,
        estimate=lambda request: request.max_tokens or 0,
        clock=clock,
        sleep=clock.sleep,
    )
    client = Aether(FakeProvider(responder=answer), stack=[limiter])
    async with anyio.create_task_group() as group:
        group.start_soon(partial(client.ask, "long", max_tokens=90))
        await anyio.wait_all_tasks_blocked()
        group.start_soon(partial(client.ask, "short", max_tokens=50))
        await anyio.wait_all_tasks_blocked()
        # 10 tokens left, 50 needed: 24 s of refill, unless the first call gives some back.
        assert (sent, clock.sleeps) == (["long"], [pytest.approx(24.0)])
        released.set()  # it used 10 of its 90: 80 come back
        await anyio.wait_all_tasks_blocked()
        assert sent == ["long", "short"]
    assert clock.now == 0


async def test_an_under_estimate_is_taken_from_the_bucket(clock: ManualClock) -> None:
    fake = fake_using(tokens=60)
    limiter = RateLimitMiddleware(
        tokens_per_minute=100, estimate=lambda request: 10, clock=clock, sleep=clock.sleep
    )
    client = Aether(fake, stack=[limiter])
    await client.ask("one")
    await client.ask("two")
    async with anyio.create_task_group() as group:
        group.start_soon(client.ask, "three")
        await anyio.wait_all_tasks_blocked()
        # 100 - 2 × 60 = -20 left, 10 needed: 30 tokens at 100/60 a second is 18 s.
        assert clock.sleeps == [pytest.approx(18.0)]
        await clock.advance(18)
    assert len(fake.requests) == 3


async def test_stream_corrects_the_estimate_from_its_final_chunk(clock: ManualClock) -> None:
    fake = fake_using(tokens=60)
    limiter = RateLimitMiddleware(
        tokens_per_minute=100, estimate=lambda request: 10, clock=clock, sleep=clock.sleep
    )
    client = Aether(fake, stack=[limiter])
    for _ in range(2):
        async for _chunk in client.stream("hi"):
            pass
    async with anyio.create_task_group() as group:
        group.start_soon(client.ask, "three")
        await anyio.wait_all_tasks_blocked()
        assert clock.sleeps == [pytest.approx(18.0)]
        await clock.advance(18)


async def test_call_larger_than_the_bucket_waits_for_a_full_one(clock: ManualClock) -> None:
    fake = fake_using(tokens=250)
    limiter = RateLimitMiddleware(
        tokens_per_minute=100, estimate=lambda request: 250, clock=clock, sleep=clock.sleep
    )
    client = Aether(fake, stack=[limiter])
    await client.ask("big")
    async with anyio.create_task_group() as group:
        group.start_soon(client.ask, "big again")
        await anyio.wait_all_tasks_blocked()
        # The first took 250 from a bucket of 100 (-150); the next needs a full bucket.
        assert clock.sleeps == [pytest.approx(150.0)]
        await clock.advance(150)
    assert len(fake.requests) == 2


async def test_cancelled_waiter_takes_nothing_and_blocks_no_one(clock: ManualClock) -> None:
    fake = FakeProvider("ok")
    client = limited(fake, clock, requests_per_minute=1)
    await client.ask("first")
    waiter = anyio.CancelScope()

    async def give_up() -> None:
        with waiter:
            await client.ask("gives up")

    async with anyio.create_task_group() as group:
        group.start_soon(give_up)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(client.ask, "patient")
        await anyio.wait_all_tasks_blocked()
        waiter.cancel()
        await anyio.wait_all_tasks_blocked()
        await clock.advance(60)
    assert prompts(fake) == ["first", "patient"]
    assert clock.sleeps == [pytest.approx(60.0), pytest.approx(60.0)]


async def test_real_clock_spaces_calls_evenly() -> None:
    fake = FakeProvider("ok")
    # 1200 a minute with no burst: one call every 50 ms.
    client = Aether(fake, stack=[RateLimitMiddleware(requests_per_minute=1200, burst=1)])
    started = anyio.current_time()
    for index in range(5):
        await client.ask(str(index))
    elapsed = anyio.current_time() - started
    assert prompts(fake) == ["0", "1", "2", "3", "4"]
    assert 0.19 <= elapsed < 2.0


async def ping() -> str:
    """Ping."""
    return "pong"


def busy_then_a_tool_call_then_an_answer() -> FakeProvider:
    """Three model calls for one logical call: a retried failure, a tool round, the answer."""
    tool_call = LLMResponse(
        text="",
        model="fake-model",
        finish_reason="tool_calls",
        tool_calls=(ToolCall(id="c1", name="ping"),),
    )
    return FakeProvider(responses=[ServerError("busy"), tool_call, "done"])


async def no_backoff(seconds: float) -> None:
    del seconds


async def test_limiter_outermost_lets_tool_rounds_and_retries_through(clock: ManualClock) -> None:
    fake = busy_then_a_tool_call_then_an_answer()
    limiter = RateLimitMiddleware(requests_per_minute=60, burst=1, clock=clock, sleep=clock.sleep)
    client = Aether(fake, middleware=[limiter], retry=RetryPolicy(base_delay=0))
    assert await client.ask("go", tools=[ping]) == "done"
    # Three model calls within the same second, one turn taken: nobody waited.
    assert (len(fake.requests), clock.sleeps) == (3, [])


async def test_limiter_below_the_tool_loop_and_retry_spaces_every_model_call(
    clock: ManualClock,
) -> None:
    fake = busy_then_a_tool_call_then_an_answer()
    events = EventBus()
    client = Aether(
        fake,
        events=events,
        stack=[
            ToolLoopMiddleware(events),
            RetryMiddleware(sleep=no_backoff),
            RateLimitMiddleware(requests_per_minute=60, burst=1, clock=clock, sleep=clock.sleep),
            EventsMiddleware(events),
        ],
    )
    async with anyio.create_task_group() as group:
        group.start_soon(partial(client.ask, "go", tools=[ping]))
        for expected in (1, 2, 3):
            await anyio.wait_all_tasks_blocked()
            assert len(fake.requests) == expected  # the attempt, the retry, the tool round
            await clock.advance(1)
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]


def test_limiter_without_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        RateLimitMiddleware()


def test_non_positive_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="tokens_per_minute must be positive"):
        RateLimitMiddleware(tokens_per_minute=0)


def test_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    bucket = TokenBucket(capacity=10, rate=2, now=0)
    bucket.take(10)
    assert bucket.wait_time(4) == pytest.approx(2.0)
    bucket.refill(1.5)
    assert bucket.level == pytest.approx(3.0)
    bucket.refill(100)
    assert bucket.level == 10


def test_the_estimate_counts_an_image_as_aethers_estimate_for_it() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(8)
    message = Message(role="user", content=["x" * 9, ImagePart(data=png)])
    assert estimate_tokens(LLMRequest(messages=(message,), max_tokens=10)) == 3 + 1_600 + 10
