"""Budgets per key (user, tenant, API key...) in dollars and tokens, for a process or a fleet.

``BudgetMiddleware(BudgetPolicy(max_cost_usd=5.0, per="user_id"))`` keeps a ledger per
value of ``request.context["user_id"]`` (``client.ask(..., context={"user_id":
"alice"})``); without ``per``, one ledger for every call. Once a key has spent its
budget, its next call raises `KeyBudgetExceededError` (an
`aether.errors.BudgetExceededError`) before anything is sent. ``period=86400`` starts a
fresh ledger every day (UTC days; any number of seconds).

Safe under concurrency, across processes with `RedisBudgetBackend`: every call in flight
holds a reservation, an estimate of what it may spend: its prompt (a token per four
characters, media parts at `aether.memory.approximate_content_tokens`) plus
``max_tokens`` of output, or `EXPECTED_OUTPUT_TOKENS` without it, priced
at the model's rates. A call goes only if what the key spent plus what the calls in flight
reserved leaves room for its own reservation; otherwise it waits for one to settle. When
nothing is in flight and the key is under budget it goes alone. So N concurrent calls,
in any number of processes, can never overshoot together: the total stays within one
call's reservation of the budget (plus what any call spends beyond its reservation: set
``max_tokens`` to bound it). A model with no known price reserves ``reserve_usd``, or
else the largest price a call of that key has had.

What is charged: the tokens and ``cost_usd`` the answer (or a stream's final chunk)
reports, priced here if no layer below priced it. A failed call is charged nothing; a
stream that stops after some text, before its final chunk, is charged an estimate (the
provider bills it). Reservations expire after ``hold`` seconds, so a process that dies
mid-call does not hold its reservation forever.

Placement: with cost tracking, below the tool loop and the cache (`default_stack(budget=
...)`): each model call is checked before it is sent, which stops a runaway tool loop at
its next iteration, and a cached answer costs nothing.

Redis unavailable: `RedisBudgetBackend` fails closed by default: calls are refused with
`SharedStateError`, since a budget that cannot be checked is not enforced.
``fail_open=True`` lets them go unchecked and uncharged during an outage. Settling never
fails a call that already has its answer: a settle that cannot reach Redis is logged and
its reservation expires.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from aether.config import number_problem
from aether.errors import BudgetExceededError, ConfigurationError, MiddlewareError, SharedStateError
from aether.llm._estimate import content_tokens
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, TokenCounts
from aether.llm.streaming import aclose_stream
from aether.middleware._budget_ledger import (
    BudgetDecision,
    BudgetLedger,
    BudgetLimits,
    InMemoryBudgetBackend,
)
from aether.middleware._budget_redis import RedisBudgetBackend
from aether.pipeline import CallNext, StreamNext
from aether.pricing import Pricer

__all__ = [
    "EXPECTED_OUTPUT_TOKENS",
    "BudgetBackend",
    "BudgetLedger",
    "BudgetMiddleware",
    "BudgetPolicy",
    "InMemoryBudgetBackend",
    "KeyBudgetExceededError",
    "RedisBudgetBackend",
]

logger = logging.getLogger("aether.budget")

EXPECTED_OUTPUT_TOKENS = 512
"""The output a call without ``max_tokens`` reserves: a long chat answer."""

_SETTLE_TIMEOUT = 2.0
_POLL_FIRST, _POLL_MAX = 0.01, 0.25


class KeyBudgetExceededError(BudgetExceededError):
    """One key's budget is spent; nothing was sent.

    Attributes:
        key: The key the budget belongs to (``"alice"``).
        budget_tokens: The key's token budget, if it has one.
        spent_tokens: The tokens it had spent when the call was refused.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str,
        budget_usd: float,
        spent_usd: float,
        budget_tokens: int | None,
        spent_tokens: int,
    ) -> None:
        super().__init__(message, budget_usd=budget_usd, spent_usd=spent_usd)
        self.key = key
        self.budget_tokens = budget_tokens
        self.spent_tokens = spent_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetPolicy:
    """What each key may spend: ``default_stack(budget=BudgetPolicy(...))``.

    Attributes:
        max_cost_usd: Dollars each key may spend; ``None`` for no dollar limit.
        max_tokens: Tokens (input plus output) each key may spend; ``None`` for none.
        per: The request-context entry naming the key (``"user_id"``); ``None`` for one
            budget shared by every call.
        default_key: The key of requests without that entry; ``None`` refuses them.
        period: Seconds after which every key starts afresh (86400: daily, in UTC
            days); ``None`` never.
        reserve_usd: What a call to a model with no known price reserves; ``None``: the
            largest price a call of that key has had.
        hold: Seconds a reservation lives if its call never settles (its process died).

    Raises:
        ConfigurationError: Listing every invalid field.
    """

    max_cost_usd: float | None = None
    max_tokens: int | None = None
    per: str | None = None
    default_key: str | None = None
    period: float | None = None
    reserve_usd: float | None = None
    hold: float = 600.0

    def __post_init__(self) -> None:
        checks = [
            self.max_cost_usd is not None
            and number_problem("max_cost_usd", self.max_cost_usd, minimum=0, unit=" dollars"),
            self.max_tokens is not None
            and number_problem("max_tokens", self.max_tokens, minimum=0, whole=True),
            self.period is not None
            and number_problem("period", self.period, minimum=1, unit=" seconds"),
            self.reserve_usd is not None
            and number_problem("reserve_usd", self.reserve_usd, minimum=0, unit=" dollars"),
            number_problem("hold", self.hold, minimum=1, unit=" seconds"),
            (self.max_cost_usd is None and self.max_tokens is None)
            and "give max_cost_usd=..., max_tokens=..., or both",
        ]
        problems = [problem for problem in checks if problem]
        if problems:
            raise ConfigurationError(
                "invalid BudgetPolicy: " + "; ".join(problems), problems=problems
            )

    @property
    def limits(self) -> BudgetLimits:
        """The limits, as the backends take them."""
        return BudgetLimits(self.max_tokens, self.max_cost_usd)


class BudgetBackend(Protocol):
    """Where the ledgers live; implement it to keep them elsewhere."""

    async def reserve(
        self,
        key: str,
        *,
        tokens: int,
        usd: float | None,
        limits: BudgetLimits,
        hold: float,
        ttl: float | None,
    ) -> BudgetDecision:
        """Admit with a reservation (``usd=None``: the largest call's price), wait, or spent."""
        ...

    async def settle(
        self, key: str, reservation: str, *, tokens: int, cost_usd: float | None, billed: bool
    ) -> None:
        """Release the reservation and charge the call (when ``billed``)."""
        ...

    async def ledger(self, key: str) -> BudgetLedger:
        """A copy of ``key``'s ledger."""
        ...

    async def reset(self, key: str) -> None:
        """Forget what ``key`` spent."""
        ...


def _prompt_tokens(request: LLMRequest) -> int:
    # Text at a token per four characters, media parts at Aether's estimate for them.
    return sum(content_tokens(message.content) for message in request.messages)


class BudgetMiddleware:
    """Refuses a key's calls once its dollar or token budget is spent.

    Args:
        policy: The limits, the key and the period.
        backend: Where the ledgers live (in memory by default; `RedisBudgetBackend` to
            share them between processes).
        pricer: Prices reservations and unpriced answers (share the client's, as
            `default_stack` does); a new `Pricer` by default.
        clock: Wall-clock seconds, for ``period`` (``time.time``).
    """

    name = "Budget"

    __slots__ = ("_clock", "_settled", "backend", "policy", "pricer")

    def __init__(
        self,
        policy: BudgetPolicy,
        *,
        backend: BudgetBackend | None = None,
        pricer: Pricer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(policy, BudgetPolicy):
            raise ConfigurationError(
                f"BudgetMiddleware takes a BudgetPolicy, not {type(policy).__name__}: write "
                f"BudgetMiddleware(BudgetPolicy(max_cost_usd=..., per='user_id'))"
            )
        self.policy = policy
        self.backend: BudgetBackend = backend if backend is not None else InMemoryBudgetBackend()
        self.pricer = pricer if pricer is not None else Pricer()
        self._clock = clock
        self._settled: dict[str, anyio.Event] = {}

    def key_for(self, request: LLMRequest) -> str:
        """The ledger ``request`` is charged to (with its period, if any).

        Raises:
            MiddlewareError: The request has no key and there is no ``default_key``.
        """
        policy = self.policy
        if policy.per is None:
            key = "all"
        else:
            found = request.context.get(policy.per, policy.default_key)
            if found is None:
                raise MiddlewareError(
                    f"BudgetMiddleware reads request.context[{policy.per!r}], and this "
                    f"request has none: pass context={{{policy.per!r}: ...}} to the call, "
                    f"or give BudgetPolicy(default_key=...)"
                )
            key = f"{policy.per}={found}"
        if policy.period is not None:
            key += f"@{math.floor(self._clock() / policy.period)}"
        return key

    async def ledger(self, key: str) -> BudgetLedger:
        """A copy of the ledger of ``key`` (as `key_for` names it: ``"user_id=alice"``)."""
        return await self.backend.ledger(key)

    async def reset(self, key: str) -> None:
        """Forget what ``key`` has spent."""
        await self.backend.reset(key)

    def _reservation(self, request: LLMRequest) -> tuple[int, float | None]:
        prompt = _prompt_tokens(request)
        output = request.max_tokens if request.max_tokens is not None else EXPECTED_OUTPUT_TOKENS
        usd = self.pricer.price(request.model, TokenCounts(input=prompt, output=output))
        return prompt + output, usd if usd is not None else self.policy.reserve_usd

    def _refusal(self, key: str, ledger: BudgetLedger) -> KeyBudgetExceededError:
        policy = self.policy
        limits = []
        if policy.max_tokens is not None:
            limits.append(f"{ledger.tokens} of {policy.max_tokens} tokens")
        if policy.max_cost_usd is not None:
            limits.append(f"${ledger.cost_usd:.6f} of ${policy.max_cost_usd:.6f}")
        return KeyBudgetExceededError(
            f"the budget of {key!r} is spent ({', '.join(limits)}); nothing was sent. "
            f"Raise the limit, or reset the key to allow more calls.",
            key=key,
            budget_usd=policy.max_cost_usd if policy.max_cost_usd is not None else math.inf,
            spent_usd=ledger.cost_usd,
            budget_tokens=policy.max_tokens,
            spent_tokens=ledger.tokens,
        )

    async def _admit(self, request: LLMRequest) -> tuple[str, str | None]:
        """Wait for room; the key and the reservation (``None``: failed open)."""
        key = self.key_for(request)
        if self.pricer.needs_library(request.model):
            await self.pricer.prepare(request.model)
        tokens, usd = self._reservation(request)
        policy = self.policy
        ttl = policy.period + policy.hold if policy.period is not None else None
        poll = _POLL_FIRST
        while True:
            try:
                decision = await self.backend.reserve(
                    key, tokens=tokens, usd=usd, limits=policy.limits, hold=policy.hold, ttl=ttl
                )
            except SharedStateError:
                if getattr(self.backend, "fail_open", False):
                    return key, None
                raise
            if decision.outcome == "admitted":
                return key, decision.reservation
            if decision.outcome == "spent":
                raise self._refusal(key, decision.ledger or BudgetLedger())
            # A call in flight must settle first: here (an event) or elsewhere (polled).
            event = self._settled.get(key)
            if event is None:
                event = self._settled[key] = anyio.Event()
            with anyio.move_on_after(poll):
                await event.wait()
            poll = min(poll * 2, _POLL_MAX)

    async def _settle(
        self, key: str, reservation: str | None, *, tokens: int, cost: float | None, billed: bool
    ) -> None:
        if reservation is None:
            return
        # Shielded and bounded: it runs in `finally`, cancellation included.
        with anyio.CancelScope(shield=True), anyio.move_on_after(_SETTLE_TIMEOUT):
            try:
                await self.backend.settle(
                    key, reservation, tokens=tokens, cost_usd=cost, billed=billed
                )
            except SharedStateError:
                logger.warning(
                    "could not settle a call of budget %r (%d tokens, $%s); its reservation "
                    "expires on its own and this charge is lost",
                    key,
                    tokens,
                    cost,
                )
        event = self._settled.pop(key, None)
        if event is not None:
            event.set()

    def _cost(self, request: LLMRequest, response: Any, final: bool) -> float | None:
        if response.cost_usd is not None:
            return float(response.cost_usd)
        if final:
            return self.pricer.price_final_chunk(response, requested_model=request.model)
        return self.pricer.price_response(response, requested_model=request.model)

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request`` if its key's budget allows.

        Raises:
            KeyBudgetExceededError: The key's budget is spent; nothing was sent.
            SharedStateError: The shared ledger is unreachable and fails closed.
        """
        key, reservation = await self._admit(request)
        try:
            response = await call_next(request)
        except BaseException:
            await self._settle(key, reservation, tokens=0, cost=None, billed=False)
            raise
        await self._settle(
            key,
            reservation,
            tokens=response.input_tokens + response.output_tokens,
            cost=self._cost(request, response, final=False),
            billed=True,
        )
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        """Stream ``request`` if its key's budget allows (see `call`)."""
        key, reservation = await self._admit(request)
        final: StreamChunk | None = None
        characters = 0
        inner = call_next(request)
        try:
            async for chunk in inner:
                if chunk.is_final:
                    final = chunk
                elif chunk.kind == "text":
                    characters += len(chunk.text)
                yield chunk
        finally:
            try:
                await aclose_stream(inner)
            finally:
                if final is not None:
                    used = final.tokens.total if final.tokens is not None else 0
                    cost = self._cost(request, final, final=True)
                else:  # stopped early: the provider still bills what it sent
                    prompt, output = _prompt_tokens(request), math.ceil(characters / 4)
                    used = prompt + output
                    cost = self.pricer.price(
                        request.model, TokenCounts(input=prompt, output=output)
                    )
                await self._settle(
                    key, reservation, tokens=used, cost=cost,
                    billed=final is not None or characters > 0,
                )  # fmt: skip

    def __repr__(self) -> str:
        return f"BudgetMiddleware({self.policy!r}, backend={self.backend!r})"
