"""Retry: exponential backoff with jitter, honouring the server's Retry-After.

A request is retried when it fails with an `AetherError` whose ``retryable`` is true
(rate limits, timeouts, connection failures, 5xx, unreadable responses), never on a
caller's error (400, 401, 403, 404) and never on cancellation, not even during the
backoff sleep. The wait before each retry is the latest error's ``retry_after`` when the
server sent one, else ``base_delay * multiplier ** (retry - 1)`` capped at ``max_delay``,
minus up to ``jitter`` of itself at random. A server asking for longer than
``max_retry_after`` fails the call at once with its error.

Streams are retried only until their first chunk has been yielded downstream: an error
before any content (including one the provider sends inside an HTTP 200 stream) is a
handshake error and is retried; after that it propagates, so no text is ever repeated.

The first attempt runs outside tenacity, which costs about 25 µs a call even on success;
only a failed first attempt enters tenacity's loop (with ``sleep=anyio.sleep``, so trio
works too).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from aether.config import number_problem
from aether.errors import AetherError, ConfigurationError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.middleware._context import ATTEMPT
from aether.pipeline import CallNext, StreamNext

__all__ = ["RetryMiddleware", "RetryPolicy"]

_T = TypeVar("_T")

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How `RetryMiddleware` retries: ``Aether(retry=RetryPolicy(attempts=5))``.

    Attributes:
        attempts: Attempts in all, the first one included (1 turns retry off).
        base_delay: Seconds before the first retry, before jitter.
        multiplier: Each further retry waits this many times longer.
        max_delay: Cap on the computed backoff, in seconds.
        jitter: Fraction (0 to 1) of each backoff that may be removed at random, so
            clients that failed together do not retry together. 0 waits exactly.
        max_retry_after: The longest ``Retry-After`` the client will honour; a server
            asking for more fails the call at once with its error.

    Raises:
        ConfigurationError: Listing every invalid field.
    """

    attempts: int = 3
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 20.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        checks = [
            number_problem("attempts", self.attempts, minimum=1, whole=True),
            *(
                number_problem(name, getattr(self, name), minimum=0, unit=" seconds")
                for name in ("base_delay", "max_delay", "max_retry_after")
            ),
            number_problem("multiplier", self.multiplier, minimum=1),
            number_problem("jitter", self.jitter, minimum=0, maximum=1),
        ]
        problems = [problem for problem in checks if problem]
        if problems:
            raise ConfigurationError(
                "invalid RetryPolicy: " + "; ".join(problems), problems=problems
            )

    def backoff(self, retry: int, *, random_value: float) -> float:
        """Seconds to wait before retry number ``retry`` (from 1) with no Retry-After.

        ``random_value`` in [0, 1) picks how much jitter removes.
        """
        delay = min(self.max_delay, self.base_delay * self.multiplier ** (retry - 1))
        return delay * (1 - self.jitter * random_value)


def _retry_after(error: BaseException) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


class RetryMiddleware:
    """Retries failed calls and failed stream handshakes, by `RetryPolicy`.

    Writes the attempt number (from 1) into ``request.context[ATTEMPT]`` before each
    attempt, for the events middleware below it.

    Args:
        policy: Attempts, backoff and the Retry-After cap.
        sleep: The sleep to wait with (tests pass a recorder); ``anyio.sleep`` by default.
        rand: The source of jitter, returning a float in [0, 1).
    """

    name = "Retry"

    __slots__ = ("_random", "_sleep", "policy")

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._random = rand

    def _gives_up(self, error: BaseException, attempt: int) -> bool:
        """Whether ``error`` on ``attempt`` ends the call (notes on the error say why)."""
        if not isinstance(error, AetherError) or not error.retryable:
            return True
        policy = self.policy
        if attempt >= policy.attempts:
            if policy.attempts > 1:
                error.add_note(f"Aether's retry gave up after {attempt} attempts.")
            return True
        retry_after = _retry_after(error)
        if retry_after is not None and retry_after > policy.max_retry_after:
            error.add_note(
                f"Aether did not retry: the server asked to wait {retry_after:g} s, more "
                f"than RetryPolicy.max_retry_after={policy.max_retry_after:g} s."
            )
            return True
        return False

    def _wait(self, error: BaseException, attempt: int) -> float:
        retry_after = _retry_after(error)
        if retry_after is not None:
            return max(0.0, retry_after)
        return self.policy.backoff(attempt, random_value=self._random())

    async def _run(self, request: LLMRequest, operation: Callable[[], Awaitable[_T]]) -> _T:
        context = request.context
        context[ATTEMPT] = 1
        try:
            return await operation()
        except Exception as error:
            if self._gives_up(error, 1):
                raise
            first_error = error
        return await self._retry(context, operation, first_error)

    async def _retry(
        self,
        context: dict[str, Any],
        operation: Callable[[], Awaitable[_T]],
        first_error: Exception,
    ) -> _T:
        """Attempts 2 and on, in tenacity's loop (attempt 1 replays ``first_error``)."""
        import tenacity

        def give_up(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return error is None or self._gives_up(error, state.attempt_number)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self._wait(error, state.attempt_number) if error else 0.0

        replay: list[Exception] = [first_error]
        attempts = 1

        async def attempt() -> _T:
            nonlocal attempts
            if replay:
                raise replay.pop()
            attempts += 1
            context[ATTEMPT] = attempts
            return await operation()

        retrying = tenacity.AsyncRetrying(
            sleep=self._sleep,
            stop=give_up,
            wait=wait,
            retry=tenacity.retry_if_exception_type(Exception),
            reraise=True,
        )
        result: _T = await retrying(attempt)
        return result

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request``, retrying as the policy says."""
        return await self._run(request, lambda: call_next(request))

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Stream ``request``, retrying until the first chunk arrives, never after."""
        return _HandshakeRetryingStream(self, request, call_next)


class _HandshakeRetryingStream:
    """The stream `RetryMiddleware.stream` returns.

    Its first ``__anext__`` opens the inner stream and waits for the first chunk, with
    retries. Every later one hands out the inner stream's own awaitable, so after the
    handshake this layer adds no coroutine and no generator hop per chunk, and retrying
    is impossible by construction.
    """

    __slots__ = ("_call_next", "_closed", "_inner", "_middleware", "_request")

    def __init__(
        self, middleware: RetryMiddleware, request: LLMRequest, call_next: StreamNext
    ) -> None:
        self._middleware = middleware
        self._request = request
        self._call_next = call_next
        self._inner: AsyncIterator[StreamChunk] | None = None
        self._closed = False

    def __aiter__(self) -> _HandshakeRetryingStream:
        return self

    def __anext__(self) -> Awaitable[StreamChunk]:
        inner = self._inner
        if inner is None:
            return self._handshake()
        return inner.__anext__()

    async def _open(self) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None]:
        inner = self._call_next(self._request)
        try:
            return inner, await inner.__anext__()
        except StopAsyncIteration:
            return inner, None
        except BaseException:
            await aclose_stream(inner)
            raise

    async def _handshake(self) -> StreamChunk:
        if self._closed:
            raise StopAsyncIteration
        inner, first = await self._middleware._run(self._request, self._open)
        self._inner = inner
        if first is None:
            raise StopAsyncIteration
        return first

    async def aclose(self) -> None:
        """Close the inner stream (a consumer that stops early releases the provider's)."""
        self._closed = True
        if self._inner is not None:
            await aclose_stream(self._inner)
