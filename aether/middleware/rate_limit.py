"""Client-side rate limits, requests and tokens per minute, held by one process or a fleet.

``RateLimitMiddleware(RateLimitPolicy(requests_per_minute=500, tokens_per_minute=200_000))``
makes calls wait their turn instead of failing with the provider's 429. The state lives
in a backend: `InMemoryRateLimitBackend` (the default) for one process, or
`RedisRateLimitBackend` for every process that shares one Redis, so ten workers hold 500
RPM together instead of 500 each.

The algorithm is GCRA (see ``_gcra``): a token bucket kept as one timestamp per limit.
Chosen over a sliding window because it needs one small key per limit whatever the rate
(a sliding-window log keeps one entry per request, 10,000 for 10,000 RPM), is exact (a
sliding-window counter only approximates), and answers "when may this call go" in the
same atomic step that books it: a call costs one Redis round trip and never polls.
Waiting callers go in the order they reached the limiter, fleet-wide.

``burst_seconds`` (1 by default) is how much of the allowance may go at once after a
quiet spell: with it, any 60-second window carries at most 61 seconds' worth of the
limit (1.7 % over), and any one second at most two seconds' worth. A whole minute's
burst would let a sliding minute see twice the limit.

Tokens are estimated before the call (a token per four characters of prompt, media parts
at Aether's estimate for them, plus ``max_tokens``, as providers count a request) and
corrected from the usage the answer reports: an under-estimate is taken at once (one
more round trip), so later calls wait for it; an over-estimate is given back with the
process's next booking of that key, so the usual case (``max_tokens`` set, fewer used)
costs one round trip a call. A call
that fails keeps what it took (the provider counted it); a call cancelled while it
waits gives its booking back. A waiting call keeps the slot it booked: tokens
given back serve the calls that arrive after.

Placement: below retry in the default stack (`default_stack(rate_limit=...)`), so every
attempt that reaches the provider is counted, below the breaker (a refused call takes no
slot) and below the tool loop (each model call waits its turn).

Redis unavailable: `RedisRateLimitBackend` fails open by default: calls go without
waiting (and a warning is logged once per outage), because an outage of the limiter
should not stop the traffic it paces, and the provider's own 429s, which retry honours,
still protect it. ``fail_open=False`` refuses calls with `SharedStateError` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from aether.config import number_problem
from aether.errors import ConfigurationError, SharedStateError
from aether.llm._estimate import content_tokens
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.middleware import _gcra
from aether.middleware._gcra import LimitUse
from aether.middleware._rate_limit_redis import RedisRateLimitBackend
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "InMemoryRateLimitBackend",
    "LimitUse",
    "RateLimitBackend",
    "RateLimitMiddleware",
    "RateLimitPolicy",
    "RedisRateLimitBackend",
    "estimate_tokens",
]

_CLEANUP_TIMEOUT = 1.0
"""Seconds a cancelled call may spend giving its booking back."""

_EPSILON = 1e-6
"""Waits shorter than this are rounding, not waits."""


def estimate_tokens(request: LLMRequest) -> int:
    """A tokenizer-free estimate: a token per four characters of prompt text, Aether's
    estimate for each media part (`aether.memory.approximate_content_tokens`: 1,600 an
    image), plus ``max_tokens``."""
    prompt = sum(content_tokens(message.content) for message in request.messages)
    return prompt + (request.max_tokens or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitPolicy:
    """How fast calls may go: ``default_stack(rate_limit=RateLimitPolicy(...))``.

    Attributes:
        requests_per_minute: Calls per minute; ``None`` for no request limit.
        tokens_per_minute: Tokens (input plus output) per minute; ``None`` for none.
        burst_seconds: How many seconds' worth of each limit may go at once after a
            quiet spell (at least one request, at least one call's tokens).

    Raises:
        ConfigurationError: Listing every invalid field.
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        problems = [
            number_problem(name, value, minimum=0, unit="")
            for name, value in (
                ("requests_per_minute", self.requests_per_minute),
                ("tokens_per_minute", self.tokens_per_minute),
            )
            if value is not None
        ]
        problems.append(number_problem("burst_seconds", self.burst_seconds, minimum=0, unit=" s"))
        for name in ("requests_per_minute", "tokens_per_minute", "burst_seconds"):
            if getattr(self, name) == 0:
                problems.append(f"{name} must be above 0")
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            problems.append("give requests_per_minute=..., tokens_per_minute=..., or both")
        found = [problem for problem in problems if problem]
        if found:
            raise ConfigurationError("invalid RateLimitPolicy: " + "; ".join(found), problems=found)

    def uses(self, tokens: float) -> list[LimitUse]:
        """The limits a call estimated at ``tokens`` tokens takes from."""
        uses = []
        if self.requests_per_minute is not None:
            interval = 60.0 / self.requests_per_minute
            capacity = max(1.0, self.burst_seconds / interval)
            uses.append(LimitUse("requests", interval, capacity, 1.0))
        if self.tokens_per_minute is not None:
            interval = 60.0 / self.tokens_per_minute
            uses.append(LimitUse("tokens", interval, self.burst_seconds / interval, tokens))
        return uses


class RateLimitBackend(Protocol):
    """Where the limits' state lives; implement it to keep it elsewhere."""

    async def reserve(self, key: str, uses: Sequence[LimitUse]) -> float:
        """Book the call on every limit at once; the seconds it must wait first."""
        ...

    async def adjust(self, key: str, uses: Sequence[LimitUse]) -> None:
        """Take ``use.amount`` more units of each limit (give back when negative)."""
        ...


class InMemoryRateLimitBackend:
    """The limits of one process (the default). Steps are synchronous, so atomic.

    Args:
        clock: Monotonic seconds (``anyio.current_time`` by default).
    """

    __slots__ = ("_clock", "_tats")

    def __init__(self, *, clock: Callable[[], float] = anyio.current_time) -> None:
        self._clock = clock
        self._tats: dict[tuple[str, str], float] = {}

    async def reserve(self, key: str, uses: Sequence[LimitUse]) -> float:
        now = self._clock()
        go, booked = _gcra.reserve([self._tats.get((key, use.limit)) for use in uses], uses, now)
        for use, tat in zip(uses, booked, strict=True):
            self._tats[key, use.limit] = tat
        return go - now

    async def adjust(self, key: str, uses: Sequence[LimitUse]) -> None:
        now = self._clock()
        for use in uses:
            self._tats[key, use.limit] = _gcra.adjust(self._tats.get((key, use.limit)), use, now)

    def __repr__(self) -> str:
        return f"InMemoryRateLimitBackend(keys={len(self._tats)})"


class RateLimitMiddleware:
    """Makes calls wait so a process, or a fleet, stays under its rate limits.

    Args:
        policy: The limits.
        backend: Where their state lives (in memory by default; `RedisRateLimitBackend`
            to share it between processes).
        provider: The provider's name, for the default key.
        key: The limit's key for a request, instead of ``provider:model`` (to limit per
            API key or per tenant, say).
        estimate: The tokens a call is assumed to use before its answer says.
        sleep: Async sleep (``anyio.sleep``; tests pass their own).
    """

    name = "RateLimit"

    __slots__ = ("_estimate", "_given_back", "_key", "_sleep", "backend", "policy", "provider")

    def __init__(
        self,
        policy: RateLimitPolicy,
        *,
        backend: RateLimitBackend | None = None,
        provider: str | None = None,
        key: Callable[[LLMRequest], str] | None = None,
        estimate: Callable[[LLMRequest], int] = estimate_tokens,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not isinstance(policy, RateLimitPolicy):
            raise ConfigurationError(
                f"RateLimitMiddleware takes a RateLimitPolicy, not {type(policy).__name__}: "
                f"write RateLimitMiddleware(RateLimitPolicy(requests_per_minute=...))"
            )
        self.policy = policy
        self.backend: RateLimitBackend = (
            backend if backend is not None else InMemoryRateLimitBackend()
        )
        self.provider = provider
        self._key = key
        self._estimate = estimate
        self._sleep = sleep
        # Tokens calls did not use, per key: given back with the next booking.
        self._given_back: dict[str, float] = {}

    def key_for(self, request: LLMRequest) -> str:
        """The key whose limits ``request`` takes from."""
        if self._key is not None:
            return self._key(request)
        return f"{self.provider or 'provider'}:{request.model or 'default'}"

    async def _acquire(self, key: str, uses: list[LimitUse]) -> bool:
        """Wait for the call's turn; False when a fail-open backend could not be asked."""
        given_back = self._given_back.pop(key, 0.0)
        if given_back:
            uses = [
                LimitUse(use.limit, use.interval, use.capacity, use.amount, given_back)
                if use.limit == "tokens"
                else use
                for use in uses
            ]
        try:
            wait = await self.backend.reserve(key, uses)
        except SharedStateError as error:
            if _fails_open(self.backend, error):
                return False
            raise
        if wait > _EPSILON:
            try:
                await self._sleep(wait)
            except BaseException:
                # Cancelled while waiting: give the booking back, so it serves others.
                with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_TIMEOUT):
                    await self._adjust(key, [_negated(use) for use in uses])
                raise
        return True

    async def _adjust(self, key: str, uses: list[LimitUse]) -> None:
        try:
            await self.backend.adjust(key, uses)
        except SharedStateError as error:
            if not _fails_open(self.backend, error):
                raise

    async def _correct(self, key: str, estimated: int, used: int) -> None:
        if self.policy.tokens_per_minute is None or used == estimated:
            return
        if used < estimated:
            self._given_back[key] = self._given_back.get(key, 0.0) + estimated - used
            return
        await self._adjust(
            key, [use for use in self.policy.uses(used - estimated) if use.limit == "tokens"]
        )

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request`` once the limits allow it.

        Raises:
            SharedStateError: The shared state is unreachable and fails closed.
        """
        key = self.key_for(request)
        estimated = self._estimate(request)
        booked = await self._acquire(key, self.policy.uses(estimated))
        response = await call_next(request)
        if booked:
            await self._correct(key, estimated, response.input_tokens + response.output_tokens)
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        """Stream ``request`` once the limits allow it (see `call`)."""
        key = self.key_for(request)
        estimated = self._estimate(request)
        booked = await self._acquire(key, self.policy.uses(estimated))
        inner = call_next(request)
        try:
            async for chunk in inner:
                if booked and chunk.is_final:
                    used = (chunk.input_tokens or 0) + (chunk.output_tokens or 0)
                    await self._correct(key, estimated, used)
                yield chunk
        finally:
            await aclose_stream(inner)

    def __repr__(self) -> str:
        return f"RateLimitMiddleware({self.policy!r}, backend={self.backend!r})"


def _negated(use: LimitUse) -> LimitUse:
    return LimitUse(use.limit, use.interval, use.capacity, -use.amount)


def _fails_open(backend: Any, error: SharedStateError) -> bool:
    return bool(getattr(backend, "fail_open", False)) and error.feature == "rate_limit"
