"""RetryMiddleware: backoff, Retry-After, what is retried, cancellation, streams."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import anyio
import anyio.lowlevel
import pytest

from aether import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    LLMRequest,
    Message,
    Pipeline,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
)
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.middleware import RetryMiddleware
from aether.middleware._context import ATTEMPT


class RecordingSleep:
    """Records each wait instead of sleeping.

    It has no checkpoint on purpose: a cancelled call that retry wrongly went on with
    would then reach the provider again, where the tests can count it.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_request() -> LLMRequest:
    return LLMRequest(messages=(Message(role="user", content="hi"),), model="fake-model")


def retrying(fake: FakeProvider, sleep: RecordingSleep | None = None, **policy: float) -> Pipeline:
    exact = {"jitter": 0.0, **policy}
    middleware = RetryMiddleware(RetryPolicy(**exact), sleep=sleep or RecordingSleep())  # type: ignore[arg-type]
    return Pipeline([middleware], fake)


async def stream_text(pipeline: Pipeline) -> str:
    parts = []
    async for chunk in pipeline.stream(make_request()):
        parts.append(chunk.text)
    return "".join(parts)


# -- policy ------------------------------------------------------------------------------


def test_backoff_grows_exponentially_from_base_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, multiplier=2.0, jitter=0.0)
    assert [policy.backoff(n, random_value=0.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped_by_max_delay() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert policy.backoff(10, random_value=0.0) == 5.0


def test_jitter_removes_at_most_its_fraction_of_the_delay() -> None:
    policy = RetryPolicy(base_delay=2.0, jitter=0.25)
    assert policy.backoff(1, random_value=0.0) == 2.0
    assert policy.backoff(1, random_value=0.999999) == pytest.approx(1.5, abs=1e-5)


def test_policy_validation_lists_every_problem() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(attempts=0, jitter=2.0, base_delay=-1.0)
    assert len(caught.value.problems) == 3
    assert "attempts" in str(caught.value)


# -- what is retried -----------------------------------------------------------------------


async def test_server_error_then_success_is_retried_after_backoff() -> None:
    fake = FakeProvider(responses=[ServerError("boom"), ServerError("boom"), "recovered"])
    sleep = RecordingSleep()
    response = await retrying(fake, sleep, base_delay=0.5).complete(make_request())
    assert response.text == "recovered"
    assert len(fake.requests) == 3
    assert sleep.waits == [0.5, 1.0]


async def test_retry_honours_retry_after_over_backoff() -> None:
    fake = FakeProvider(responses=[RateLimitError("slow down", retry_after=2.5), "ok"])
    sleep = RecordingSleep()
    response = await retrying(fake, sleep, base_delay=0.1).complete(make_request())
    assert response.text == "ok"
    assert sleep.waits == [2.5]


async def test_retry_after_is_read_from_the_latest_error_each_time() -> None:
    fake = FakeProvider(
        responses=[
            RateLimitError("wait", retry_after=1.0),
            RateLimitError("wait more", retry_after=2.0),
            RateLimitError("wait longer", retry_after=4.0),
            "ok",
        ]
    )
    sleep = RecordingSleep()
    await retrying(fake, sleep, attempts=4).complete(make_request())
    assert sleep.waits == [1.0, 2.0, 4.0]


async def test_retry_after_over_the_cap_fails_fast_with_the_error() -> None:
    error = RateLimitError("come back in two minutes", retry_after=120.0)
    fake = FakeProvider(responses=[error, "never reached"])
    sleep = RecordingSleep()
    with pytest.raises(RateLimitError) as caught:
        await retrying(fake, sleep, max_retry_after=60.0).complete(make_request())
    assert caught.value is error
    assert len(fake.requests) == 1
    assert sleep.waits == []
    assert any("max_retry_after=60" in note for note in caught.value.__notes__)


async def test_bad_request_is_not_retried() -> None:
    fake = FakeProvider(responses=[BadRequestError("bad field", status_code=400), "ok"])
    with pytest.raises(BadRequestError):
        await retrying(fake).complete(make_request())
    assert len(fake.requests) == 1


async def test_authentication_error_is_not_retried() -> None:
    fake = FakeProvider(responses=[AuthenticationError("bad key", status_code=401), "ok"])
    with pytest.raises(AuthenticationError):
        await retrying(fake).complete(make_request())
    assert len(fake.requests) == 1


async def test_exception_outside_aether_hierarchy_is_not_retried() -> None:
    fake = FakeProvider(responses=[KeyError("bug in an adapter"), "ok"])
    with pytest.raises(KeyError):
        await retrying(fake).complete(make_request())
    assert len(fake.requests) == 1


async def test_exhausted_retries_raise_the_last_error() -> None:
    last = RequestTimeoutError("third")
    fake = FakeProvider(responses=[ServerError("first"), ServerError("second"), last])
    sleep = RecordingSleep()
    with pytest.raises(RequestTimeoutError) as caught:
        await retrying(fake, sleep, attempts=3).complete(make_request())
    assert caught.value is last
    assert len(fake.requests) == 3
    assert len(sleep.waits) == 2
    assert any("after 3 attempts" in note for note in caught.value.__notes__)


async def test_single_attempt_policy_never_retries() -> None:
    fake = FakeProvider(responses=[ServerError("boom"), "ok"])
    with pytest.raises(ServerError):
        await retrying(fake, attempts=1).complete(make_request())
    assert len(fake.requests) == 1


async def test_attempt_number_is_written_to_the_context_before_each_attempt() -> None:
    seen: list[int] = []
    outcomes = [ServerError("one"), ServerError("two"), "three"]

    def responder(request: LLMRequest) -> object:
        seen.append(request.context[ATTEMPT])
        return outcomes[len(seen) - 1]

    fake = FakeProvider(responder=responder)  # type: ignore[arg-type]
    await retrying(fake).complete(make_request())
    assert seen == [1, 2, 3]


# -- cancellation ---------------------------------------------------------------------------


async def test_cancellation_during_backoff_sleep_propagates_without_retrying() -> None:
    fake = FakeProvider(responses=[RateLimitError("wait", retry_after=30.0), "too late"])
    pipeline = Pipeline([RetryMiddleware(RetryPolicy())], fake)  # the real anyio.sleep
    started = anyio.current_time()
    with anyio.move_on_after(0.05) as scope:
        await pipeline.complete(make_request())
    assert scope.cancelled_caught
    assert anyio.current_time() - started < 5
    assert len(fake.requests) == 1


async def test_cancellation_during_a_retry_attempt_is_not_retried() -> None:
    calls = 0

    async def responder(request: LLMRequest) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ServerError("boom")
        await anyio.sleep_forever()
        return "unreachable"

    async def instant(seconds: float) -> None:
        """A sleep with no checkpoint, so only the retry logic can stop a third attempt."""

    policy = RetryPolicy(attempts=5, jitter=0.0)
    pipeline = Pipeline([RetryMiddleware(policy, sleep=instant)], FakeProvider(responder=responder))
    with anyio.move_on_after(0.05) as scope:
        await pipeline.complete(make_request())
    assert scope.cancelled_caught
    assert calls == 2


async def test_timeout_around_the_call_is_raised_not_retried() -> None:
    async def responder(request: LLMRequest) -> str:
        await anyio.sleep_forever()
        return "unreachable"

    fake = FakeProvider(responder=responder)
    with pytest.raises(TimeoutError), anyio.fail_after(0.05):
        await retrying(fake).complete(make_request())
    assert len(fake.requests) == 1


# -- streams --------------------------------------------------------------------------------


async def test_stream_error_before_any_content_is_retried() -> None:
    fake = FakeProvider(
        responses=[StreamFault(ServerError("stream broke"), after_chunks=0), "hello world"]
    )
    sleep = RecordingSleep()
    assert await stream_text(retrying(fake, sleep)) == "hello world"
    assert len(fake.requests) == 2
    assert len(sleep.waits) == 1


async def test_stream_refused_at_handshake_is_retried() -> None:
    fake = FakeProvider(responses=[RateLimitError("busy", retry_after=0.5), "hello"])
    sleep = RecordingSleep()
    assert await stream_text(retrying(fake, sleep)) == "hello"
    assert sleep.waits == [0.5]


async def test_stream_error_after_content_propagates_without_duplicate_text() -> None:
    fault = StreamFault(ServerError("cut off"), after_chunks=2, text="one two three four")
    fake = FakeProvider(responses=[fault, "one two three four"])
    received: list[str] = []

    async def consume() -> None:
        async for chunk in retrying(fake).stream(make_request()):
            received.append(chunk.text)

    with pytest.raises(ServerError):
        await consume()
    assert received == ["one ", "two "]
    assert len(fake.requests) == 1


async def test_stream_attempts_are_closed_after_failure_and_success() -> None:
    fake = FakeProvider(responses=[StreamFault(ServerError("x"), after_chunks=0), "a b c"])
    await stream_text(retrying(fake))
    assert fake.open_streams == 0


async def test_stream_abandoned_early_closes_the_provider_stream() -> None:
    fake = FakeProvider("one two three")
    stream = retrying(fake).stream(make_request())
    async for _chunk in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert fake.open_streams == 0


async def test_stream_cancelled_during_backoff_does_not_retry() -> None:
    fake = FakeProvider(responses=[RateLimitError("wait", retry_after=30.0), "too late"])
    pipeline = Pipeline([RetryMiddleware(RetryPolicy())], fake)
    with anyio.move_on_after(0.05) as scope:
        await stream_text(pipeline)
    assert scope.cancelled_caught
    assert len(fake.requests) == 1


# -- cost of the happy path -----------------------------------------------------------------


def test_successful_call_never_imports_tenacity() -> None:
    script = textwrap.dedent(
        """
        import sys, anyio
        from aether import Aether
        from aether.extensions.llm.fake import FakeProvider

        async def main():
            client = Aether(FakeProvider("fine"))
            assert await client.ask("hi") == "fine"
            async for _ in client.stream("hi"):
                pass

        anyio.run(main)
        print("tenacity" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
