"""CircuitBreakerMiddleware: opening, fast failure, the single probe, what counts."""

from __future__ import annotations

import logging

import anyio
import anyio.lowlevel
import pytest

from aether import (
    Aether,
    AuthenticationError,
    BadRequestError,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConfigurationError,
    ContentFilterError,
    LLMRequest,
    Message,
    Pipeline,
    RetryPolicy,
    ServerError,
)
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.middleware import (
    CircuitBreakerMiddleware,
    CircuitState,
    CircuitStateChange,
    RetryMiddleware,
)

# Parametrized async tests need the module-level marker: marking them in the conftest's
# collection hook is too late for anyio's plugin, which then drops the parameters.
pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_request(model: str = "fake-model") -> LLMRequest:
    return LLMRequest(messages=(Message(role="user", content="hi"),), model=model)


def breaker(
    clock: FakeClock,
    *,
    threshold: int = 3,
    cooldown: float = 30.0,
    changes: list[CircuitStateChange] | None = None,
) -> CircuitBreakerMiddleware:
    callback = changes.append if changes is not None else None
    policy = CircuitBreakerPolicy(
        failure_threshold=threshold, cooldown=cooldown, on_state_change=callback
    )
    return CircuitBreakerMiddleware(policy, provider="fake", clock=clock)


KEY = "fake:fake-model"


async def fail_times(pipeline: Pipeline, count: int) -> None:
    for _ in range(count):
        with pytest.raises(ServerError):
            await pipeline.complete(make_request())


async def open_circuit(
    clock: FakeClock, changes: list[CircuitStateChange] | None = None
) -> tuple[CircuitBreakerMiddleware, FakeProvider, Pipeline]:
    middleware = breaker(clock, threshold=2, cooldown=10.0, changes=changes)
    fake = FakeProvider(responses=[ServerError("a"), ServerError("b")])
    pipeline = Pipeline([middleware], fake)
    await fail_times(pipeline, 2)
    return middleware, fake, pipeline


async def test_circuit_opens_after_threshold_consecutive_failures() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=3)
    fake = FakeProvider(responses=[ServerError("x")] * 3)
    pipeline = Pipeline([middleware], fake)
    await fail_times(pipeline, 2)
    assert middleware.state(KEY) is CircuitState.CLOSED
    await fail_times(pipeline, 1)
    assert middleware.state(KEY) is CircuitState.OPEN


async def test_open_circuit_fails_fast_without_calling_the_provider() -> None:
    clock = FakeClock()
    _, fake, pipeline = await open_circuit(clock)
    clock.now += 4.0
    with pytest.raises(CircuitOpenError) as caught:
        await pipeline.complete(make_request())
    assert len(fake.requests) == 2
    assert caught.value.key == KEY
    assert caught.value.retry_after == pytest.approx(6.0)
    assert caught.value.retry_at == pytest.approx(1010.0)


async def test_success_resets_the_consecutive_failure_count() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=2)
    fake = FakeProvider(responses=[ServerError("a"), "ok", ServerError("b"), "ok"])
    pipeline = Pipeline([middleware], fake)
    for _ in range(2):
        with pytest.raises(ServerError):
            await pipeline.complete(make_request())
        await pipeline.complete(make_request())
    assert middleware.state(KEY) is CircuitState.CLOSED


async def test_half_open_lets_one_probe_through_among_20_concurrent_callers() -> None:
    clock = FakeClock()
    middleware, fake, pipeline = await open_circuit(clock)
    release = anyio.Event()

    async def slow_success(request: LLMRequest) -> str:
        await release.wait()
        return "probe answered"

    fake.responder = slow_success
    clock.now += 10.0
    answers: list[str] = []
    refusals: list[CircuitOpenError] = []

    async def caller() -> None:
        try:
            answers.append((await pipeline.complete(make_request())).text)
        except CircuitOpenError as error:
            refusals.append(error)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(caller)
            while len(refusals) < 19:
                await anyio.lowlevel.checkpoint()
            assert middleware.state(KEY) is CircuitState.HALF_OPEN
            release.set()
    assert answers == ["probe answered"]
    assert len(refusals) == 19
    assert len(fake.requests) == 3  # two failures, one probe
    assert middleware.state(KEY) is CircuitState.CLOSED


async def test_failed_probe_opens_the_circuit_again() -> None:
    clock = FakeClock()
    middleware, fake, pipeline = await open_circuit(clock)
    fake.add_responses(ServerError("still down"))
    clock.now += 10.0
    assert middleware.state(KEY) is CircuitState.HALF_OPEN
    with pytest.raises(ServerError):
        await pipeline.complete(make_request())
    assert middleware.state(KEY) is CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        await pipeline.complete(make_request())
    assert caught.value.retry_after == pytest.approx(10.0)


async def test_state_changes_are_reported_in_order() -> None:
    clock = FakeClock()
    changes: list[CircuitStateChange] = []
    _, fake, pipeline = await open_circuit(clock, changes)
    fake.add_responses("ok")
    clock.now += 10.0
    await pipeline.complete(make_request())
    assert [(change.old, change.new) for change in changes] == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]
    assert changes[0].failures == 2
    assert changes[0].retry_at == pytest.approx(1010.0)
    assert {change.key for change in changes} == {KEY}


async def test_async_state_change_callback_is_awaited() -> None:
    seen: list[CircuitState] = []

    async def on_change(change: CircuitStateChange) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(change.new)

    policy = CircuitBreakerPolicy(failure_threshold=1, on_state_change=on_change)
    pipeline = Pipeline(
        [CircuitBreakerMiddleware(policy)], FakeProvider(responses=[ServerError("x")])
    )
    with pytest.raises(ServerError):
        await pipeline.complete(make_request())
    assert seen == [CircuitState.OPEN]


async def test_failing_state_change_callback_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def on_change(change: CircuitStateChange) -> None:
        raise RuntimeError("callback bug")

    policy = CircuitBreakerPolicy(failure_threshold=1, on_state_change=on_change)
    pipeline = Pipeline(
        [CircuitBreakerMiddleware(policy)], FakeProvider(responses=[ServerError("x")])
    )
    with (
        caplog.at_level(logging.ERROR, logger="aether.circuit_breaker"),
        pytest.raises(ServerError),
    ):
        await pipeline.complete(make_request())
    assert any("on_state_change" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "caller_error",
    [
        BadRequestError("bad field", status_code=400),
        ContentFilterError("refused", status_code=400),
        AuthenticationError("bad key", status_code=401),
        ValueError("a bug, not an outage"),
    ],
    ids=["bad-request", "content-filter", "authentication", "not-an-aether-error"],
)
async def test_caller_errors_do_not_count_as_failures(caller_error: Exception) -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=1)
    pipeline = Pipeline([middleware], FakeProvider(responses=[caller_error, caller_error]))
    for _ in range(2):
        with pytest.raises(type(caller_error)):
            await pipeline.complete(make_request())
    assert middleware.state(KEY) is CircuitState.CLOSED


async def test_cancellation_does_not_count_as_a_failure() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=1)

    async def hang(request: LLMRequest) -> str:
        await anyio.sleep_forever()
        return "unreachable"

    pipeline = Pipeline([middleware], FakeProvider(responder=hang))
    with anyio.move_on_after(0.02):
        await pipeline.complete(make_request())
    assert middleware.state(KEY) is CircuitState.CLOSED


async def test_cancelled_probe_lets_the_next_caller_probe() -> None:
    clock = FakeClock()
    middleware, fake, pipeline = await open_circuit(clock)
    clock.now += 10.0
    hang = True

    async def responder(request: LLMRequest) -> str:
        if hang:
            await anyio.sleep_forever()
        return "second probe"

    fake.responder = responder
    with anyio.move_on_after(0.02):
        await pipeline.complete(make_request())
    assert middleware.state(KEY) is CircuitState.HALF_OPEN
    hang = False
    assert (await pipeline.complete(make_request())).text == "second probe"
    assert middleware.state(KEY) is CircuitState.CLOSED


async def test_call_admitted_before_opening_cannot_close_the_circuit_later() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=1)
    started = anyio.Event()
    release = anyio.Event()
    outcomes: list[str] = []

    async def responder(request: LLMRequest) -> str:
        if request.messages[0].content == "slow":
            started.set()
            await release.wait()
            return "late success"
        raise ServerError("down")

    pipeline = Pipeline([middleware], FakeProvider(responder=responder))
    slow = LLMRequest(messages=(Message(role="user", content="slow"),), model="fake-model")

    async def slow_call() -> None:
        outcomes.append((await pipeline.complete(slow)).text)

    async with anyio.create_task_group() as group:
        group.start_soon(slow_call)
        await started.wait()
        with pytest.raises(ServerError):
            await pipeline.complete(make_request())
        assert middleware.state(KEY) is CircuitState.OPEN
        release.set()
    assert outcomes == ["late success"]
    assert middleware.state(KEY) is CircuitState.OPEN


async def test_exhausted_retries_count_as_one_breaker_failure() -> None:
    clock = FakeClock()

    async def no_sleep(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    middleware = breaker(clock, threshold=2)
    retry = RetryMiddleware(RetryPolicy(attempts=3), sleep=no_sleep)
    fake = FakeProvider(responses=[ServerError("down")] * 6)
    pipeline = Pipeline([middleware, retry], fake)
    with pytest.raises(ServerError):
        await pipeline.complete(make_request())
    assert len(fake.requests) == 3
    assert middleware.state(KEY) is CircuitState.CLOSED
    with pytest.raises(ServerError):
        await pipeline.complete(make_request())
    assert len(fake.requests) == 6
    assert middleware.state(KEY) is CircuitState.OPEN


async def test_circuits_are_kept_per_provider_and_model() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=1)

    def responder(request: LLMRequest) -> object:
        return ServerError("down") if request.model == "broken" else "fine"

    pipeline = Pipeline([middleware], FakeProvider(responder=responder))  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        await pipeline.complete(make_request("broken"))
    assert (await pipeline.complete(make_request("healthy"))).text == "fine"
    assert middleware.states() == {
        "fake:broken": CircuitState.OPEN,
        "fake:healthy": CircuitState.CLOSED,
    }


# -- streams ---------------------------------------------------------------------------------


async def drain(pipeline: Pipeline) -> str:
    return "".join([chunk.text async for chunk in pipeline.stream(make_request())])


async def test_stream_failure_before_content_counts() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=1)
    fake = FakeProvider(responses=[StreamFault(ServerError("x"), after_chunks=0)])
    with pytest.raises(ServerError):
        await drain(Pipeline([middleware], fake))
    assert middleware.state(KEY) is CircuitState.OPEN


async def test_stream_failure_after_content_counts() -> None:
    clock = FakeClock()
    middleware = breaker(clock, threshold=1)
    fake = FakeProvider(responses=[StreamFault(ServerError("x"), after_chunks=2)])
    with pytest.raises(ServerError):
        await drain(Pipeline([middleware], fake))
    assert middleware.state(KEY) is CircuitState.OPEN


async def test_open_circuit_refuses_a_stream_without_calling_the_provider() -> None:
    clock = FakeClock()
    _, fake, pipeline = await open_circuit(clock)
    with pytest.raises(CircuitOpenError):
        await drain(pipeline)
    assert len(fake.requests) == 2


async def test_stream_probe_closes_the_circuit_on_its_first_chunk() -> None:
    clock = FakeClock()
    middleware, fake, pipeline = await open_circuit(clock)
    fake.add_responses("one two three")
    clock.now += 10.0
    stream = pipeline.stream(make_request())
    first = await stream.__anext__()
    assert first.text == "one "
    assert middleware.state(KEY) is CircuitState.CLOSED
    await stream.aclose()  # type: ignore[attr-defined]
    assert fake.open_streams == 0


# -- configuration and the facade -----------------------------------------------------------


def test_policy_validation_lists_every_problem() -> None:
    with pytest.raises(ConfigurationError) as caught:
        CircuitBreakerPolicy(failure_threshold=0, cooldown=-1.0)
    assert len(caught.value.problems) == 2


async def test_client_exposes_circuit_state_by_provider_and_model() -> None:
    client = Aether(
        FakeProvider(responses=[ServerError("down")]),
        retry=RetryPolicy(attempts=1),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=1),
    )
    with pytest.raises(ServerError):
        await client.ask("hi")
    assert client.circuit_breaker is not None
    assert client.circuit_breaker.state("fake:fake-model") is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        await client.ask("hi")


async def test_probe_cancelled_in_its_state_change_callback_frees_the_probe() -> None:
    clock = FakeClock()
    slow_callback_entered = anyio.Event()

    async def slow_callback(change: CircuitStateChange) -> None:
        if change.new is CircuitState.HALF_OPEN:
            slow_callback_entered.set()
            await anyio.sleep(10)

    policy = CircuitBreakerPolicy(failure_threshold=2, cooldown=10.0, on_state_change=slow_callback)
    middleware = CircuitBreakerMiddleware(policy, provider="fake", clock=clock)
    fake = FakeProvider(responses=[ServerError("a"), ServerError("b"), "probe 2"])
    pipeline = Pipeline([middleware], fake)
    await fail_times(pipeline, 2)
    clock.now += 11.0
    with anyio.move_on_after(0.05):
        await pipeline.complete(make_request())
    assert slow_callback_entered.is_set()
    response = await pipeline.complete(make_request())
    assert response.text == "probe 2"
    assert middleware.state(KEY) is CircuitState.CLOSED
