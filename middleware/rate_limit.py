"""A client-side rate limiter: requests and tokens per minute, waiting instead of failing.

Providers enforce requests-per-minute and tokens-per-minute limits with 429 errors. This
middleware keeps a client under its own limits by making calls wait their turn, so a
burst of work slows down instead of failing and burning retries.

Each limit is a token bucket: it holds up to a minute's allowance (or ``burst``, if
given), spends one unit per request and the estimated tokens per call, and refills
continuously at the per-minute rate. A call that does not fit sleeps, with
``anyio.sleep``, for exactly as long as the refill needs. Waiting callers are served in
arrival order (an `anyio.Lock` is fair), so a large call is never starved by small ones.

Tokens are estimated before the call (a token per four characters of prompt plus
``max_tokens``, the same way providers count a request against the limit) and corrected
when the answer reports its real usage: an over-estimate is given back, an
under-estimate is taken from the bucket, which may go below zero so later calls wait for
it. Tokens given back wake the call waiting at the head of the queue, which goes at once
if they are enough. A call that fails keeps what it took, since the provider counted it too. A call
larger than the whole bucket waits for a full bucket and then goes through.

Placement decides what is counted. In ``Aether(middleware=[...])`` it sits outside the
tool loop and retry, so it takes one turn per logical call and the tool rounds and
retried attempts inside go unthrottled; to count every model call, put it below both
with ``Aether(stack=[ToolLoopMiddleware(...), RetryMiddleware(), limiter, ...])``.

No background task: the bucket is refilled by arithmetic when a call arrives. The clock
and the sleep function can be injected, which makes the limiter testable without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.memory import approximate_content_tokens
from aether.pipeline import CallNext, StreamNext

__all__ = ["RateLimitMiddleware", "TokenBucket", "estimate_tokens"]

_EPSILON = 1e-9


def estimate_tokens(request: LLMRequest) -> int:
    """A tokenizer-free estimate: a token per four characters of prompt text, Aether's
    estimate for each media part (`aether.memory.approximate_content_tokens`), plus
    ``max_tokens``."""
    prompt = sum(approximate_content_tokens(message.content) for message in request.messages)
    return prompt + (request.max_tokens or 0)


class TokenBucket:
    """A bucket of ``capacity`` units refilled at ``rate`` units per second.

    It starts full. ``level`` may go below zero when a call used more than it reserved.
    """

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, *, capacity: float, rate: float, now: float) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("a rate limit must be positive")
        self.capacity = capacity
        self.rate = rate
        self.level = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        """Add what has flowed in since the last refill, up to the capacity."""
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` (at most the capacity) is available; 0 if it is now."""
        missing = min(amount, self.capacity) - self.level
        return missing / self.rate if missing > _EPSILON else 0.0

    def take(self, amount: float) -> None:
        """Spend ``amount``; the level may go below zero."""
        self.level -= amount

    def give_back(self, amount: float) -> None:
        """Return ``amount`` (negative to take more), never above the capacity."""
        self.level = min(self.capacity, self.level + amount)


class RateLimitMiddleware:
    """Makes calls wait so the client stays under its requests and tokens per minute.

    Args:
        requests_per_minute: Calls allowed per minute; ``None`` for no request limit.
        tokens_per_minute: Tokens (input plus output) allowed per minute; ``None`` for no
            token limit.
        burst: How many requests may go at once after a quiet spell (defaults to
            ``requests_per_minute``); 1 spaces calls evenly. The token bucket holds a
            minute's worth of tokens.
        estimate: The tokens a call is assumed to use before its answer says (default
            `estimate_tokens`).
        clock: Seconds, monotonic (default ``anyio.current_time``).
        sleep: Async sleep (default ``anyio.sleep``).
    """

    name = "RateLimit"

    __slots__ = (
        "_burst",
        "_clock",
        "_estimate",
        "_lock",
        "_requests",
        "_requests_per_minute",
        "_sleep",
        "_tokens",
        "_tokens_per_minute",
        "_waiting",
    )

    def __init__(
        self,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        burst: float | None = None,
        estimate: Callable[[LLMRequest], int] = estimate_tokens,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if requests_per_minute is None and tokens_per_minute is None:
            raise ValueError(
                "give RateLimitMiddleware requests_per_minute=..., tokens_per_minute=..., or both"
            )
        for label, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
            ("burst", burst),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{label} must be positive, not {value!r}")
        self._requests_per_minute = requests_per_minute
        self._tokens_per_minute = tokens_per_minute
        self._burst = burst
        self._estimate = estimate
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        # Made on the first call, since the default clock needs a running event loop.
        self._requests: TokenBucket | None = None
        self._tokens: TokenBucket | None = None
        # The sleep of the caller at the head of the queue, cut short when tokens come back.
        self._waiting: anyio.CancelScope | None = None

    def _refilled(self, now: float) -> tuple[TokenBucket | None, TokenBucket | None]:
        if self._requests is None and self._requests_per_minute is not None:
            self._requests = TokenBucket(
                capacity=self._burst or self._requests_per_minute,
                rate=self._requests_per_minute / 60,
                now=now,
            )
        if self._tokens is None and self._tokens_per_minute is not None:
            self._tokens = TokenBucket(
                capacity=self._tokens_per_minute, rate=self._tokens_per_minute / 60, now=now
            )
        for bucket in (self._requests, self._tokens):
            if bucket is not None:
                bucket.refill(now)
        return self._requests, self._tokens

    def _wait_time(self, tokens: int) -> float:
        requests, token_bucket = self._refilled(self._clock())
        return max(
            requests.wait_time(1) if requests is not None else 0.0,
            token_bucket.wait_time(tokens) if token_bucket is not None else 0.0,
        )

    def _take(self, tokens: int) -> None:
        if self._requests is not None:
            self._requests.take(1)
        if self._tokens is not None:
            self._tokens.take(tokens)

    async def _acquire(self, tokens: int) -> None:
        # Fast path, with no await in between: nobody is queued and there is room.
        if not self._lock.locked() and self._wait_time(tokens) <= 0:
            self._take(tokens)
            return
        # Otherwise queue: the lock is fair, so callers go in arrival order, and only the
        # head of the queue sleeps, for exactly as long as its own refill needs.
        async with self._lock:
            while (wait := self._wait_time(tokens)) > 0:
                self._waiting = anyio.CancelScope()
                try:
                    with self._waiting:
                        await self._sleep(wait)
                finally:
                    self._waiting = None
            self._take(tokens)

    def _correct(self, estimated: int, used: int) -> None:
        if self._tokens is None:
            return
        self._tokens.give_back(estimated - used)
        if estimated > used and self._waiting is not None:
            # Tokens came back: the head of the queue re-checks now instead of sleeping
            # for a refill it may no longer need.
            self._waiting.cancel()

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        estimated = self._estimate(request)
        await self._acquire(estimated)
        response = await call_next(request)
        self._correct(estimated, response.tokens.total)
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        estimated = self._estimate(request)
        await self._acquire(estimated)
        inner = call_next(request)
        try:
            async for chunk in inner:
                if chunk.is_final:
                    self._correct(estimated, chunk.tokens.total if chunk.tokens is not None else 0)
                yield chunk
        finally:
            await aclose_stream(inner)
