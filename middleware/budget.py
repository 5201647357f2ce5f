"""A token and dollar budget per user (or per API key, team, tenant...).

The key is read from the request context (``context={"user_id": "alice"}`` on the call).
Once a key has spent its budget, its next call raises `UserBudgetExceededError` (an
`aether.errors.BudgetExceededError`) before anything is sent.

Safe under concurrency: every call in flight holds a reservation, an estimate of what it
may spend (its prompt, plus ``max_tokens`` of output, or `EXPECTED_OUTPUT_TOKENS` when the
call sets none). A call is let through only if what the key has spent plus what its
calls in flight have reserved leaves room for it; one that does not fit waits for a call
in flight to settle, then looks again. When nothing is in flight and the key is still
under its budget, the call goes ahead alone, so the overshoot is what that last call
spends beyond the budget's remainder, plus what any call spends beyond its reservation:
twenty concurrent calls cannot all slip in under the same remaining dollar. Set
``max_tokens`` on calls to bound their output exactly, or tune the guess with
``estimate=functools.partial(estimate_tokens, output_tokens=...)``.

What is charged: the tokens (input plus output) and the ``cost_usd`` the response or the
stream's final chunk reports. A response without a price counts its tokens only and is
counted in ``unpriced_calls``. A failed call is charged nothing; a stream that stops
before its final chunk after some text arrived is charged an estimate (the prompt's, as
`estimate_tokens` makes it, and a token per four characters of text received), since the
provider bills it. Until a key's
first priced call, a call reserves no dollars unless ``reserve_usd`` is given.

The ledger lives in memory, per middleware object: share one object between clients to
share budgets, and keep it in one process (a shared store would replace `BudgetLedger`).
``Aether(middleware=[...])`` puts it outside the tool loop, where it sees one logical call
and its final totals; placed below the tool loop with ``Aether(stack=[...])`` it checks
the budget before every iteration, which stops a runaway loop sooner.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio

from aether.errors import BudgetExceededError, MiddlewareError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.memory import approximate_content_tokens
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "EXPECTED_OUTPUT_TOKENS",
    "BudgetLedger",
    "BudgetMiddleware",
    "UserBudgetExceededError",
    "estimate_tokens",
]


EXPECTED_OUTPUT_TOKENS = 512
"""The output a call without ``max_tokens`` reserves: a long chat answer."""


def estimate_tokens(request: LLMRequest, *, output_tokens: int = EXPECTED_OUTPUT_TOKENS) -> int:
    """A tokenizer-free estimate of what a call may spend, input and output.

    A token per four characters of prompt text, Aether's estimate for each image, audio
    or document part (`aether.memory.approximate_content_tokens`: 1,600 an image), plus
    ``max_tokens`` when the request sets it, else ``output_tokens``: reserving no output
    would let every concurrent call fit.
    """
    prompt = sum(approximate_content_tokens(message.content) for message in request.messages)
    output = request.max_tokens if request.max_tokens is not None else output_tokens
    return prompt + output


class UserBudgetExceededError(BudgetExceededError):
    """One key's budget is spent; nothing was sent.

    Attributes:
        key: The context value the budget belongs to (``"alice"``).
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


@dataclass(slots=True)
class BudgetLedger:
    """What one key has spent, and what its calls in flight have reserved."""

    tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    unpriced_calls: int = 0
    reserved_tokens: int = 0
    reserved_usd: float = 0.0
    in_flight: int = 0
    largest_call_usd: float = 0.0
    settled: anyio.Event | None = field(default=None, repr=False)


class BudgetMiddleware:
    """Refuses a key's calls once its token or dollar budget is spent.

    Args:
        max_tokens: Tokens (input plus output) each key may spend; ``None`` for no limit.
        max_cost_usd: Dollars each key may spend; ``None`` for no limit.
        context_key: The request-context entry naming the key (``"user_id"``).
        default_key: The key for requests without that entry; ``None`` refuses them.
        estimate: The tokens a call reserves while in flight (default `estimate_tokens`:
            its prompt plus ``max_tokens``, or `EXPECTED_OUTPUT_TOKENS` without one).
        reserve_usd: The dollars a call reserves while in flight; ``None`` reserves the
            largest price one call of that key has had so far.
    """

    name = "Budget"

    __slots__ = (
        "_context_key",
        "_default_key",
        "_estimate",
        "_ledgers",
        "_max_cost_usd",
        "_max_tokens",
        "_reserve_usd",
    )

    def __init__(
        self,
        *,
        max_tokens: int | None = None,
        max_cost_usd: float | None = None,
        context_key: str = "user_id",
        default_key: str | None = None,
        estimate: Callable[[LLMRequest], int] = estimate_tokens,
        reserve_usd: float | None = None,
    ) -> None:
        if max_tokens is None and max_cost_usd is None:
            raise ValueError("give BudgetMiddleware max_tokens=..., max_cost_usd=..., or both")
        self._max_tokens = max_tokens
        self._max_cost_usd = max_cost_usd
        self._context_key = context_key
        self._default_key = default_key
        self._estimate = estimate
        self._reserve_usd = reserve_usd
        self._ledgers: dict[str, BudgetLedger] = {}

    def ledger(self, key: str) -> BudgetLedger:
        """The live ledger of ``key`` (created empty on first use)."""
        ledger = self._ledgers.get(key)
        if ledger is None:
            ledger = self._ledgers[key] = BudgetLedger()
        return ledger

    def reset(self, key: str) -> None:
        """Forget what ``key`` has spent; its calls in flight settle into the old ledger."""
        self._ledgers.pop(key, None)

    def _key(self, request: LLMRequest) -> str:
        key = request.context.get(self._context_key, self._default_key)
        if key is None:
            raise MiddlewareError(
                f"BudgetMiddleware reads request.context[{self._context_key!r}], and this "
                f"request has none: pass context={{{self._context_key!r}: ...}} to the call, "
                f"or give BudgetMiddleware(default_key=...)"
            )
        return str(key)

    def _spent(self, ledger: BudgetLedger) -> bool:
        return (self._max_tokens is not None and ledger.tokens >= self._max_tokens) or (
            self._max_cost_usd is not None and ledger.cost_usd >= self._max_cost_usd
        )

    def _fits(self, ledger: BudgetLedger, tokens: int, usd: float) -> bool:
        if ledger.in_flight == 0:
            return True
        return (
            self._max_tokens is None
            or ledger.tokens + ledger.reserved_tokens + tokens <= self._max_tokens
        ) and (
            self._max_cost_usd is None
            or ledger.cost_usd + ledger.reserved_usd + usd <= self._max_cost_usd
        )

    def _refusal(self, key: str, ledger: BudgetLedger) -> UserBudgetExceededError:
        limits = []
        if self._max_tokens is not None:
            limits.append(f"{ledger.tokens} of {self._max_tokens} tokens")
        if self._max_cost_usd is not None:
            limits.append(f"${ledger.cost_usd:.6f} of ${self._max_cost_usd:.6f}")
        return UserBudgetExceededError(
            f"the budget of {self._context_key} {key!r} is spent ({', '.join(limits)}); "
            f"nothing was sent. Raise the limit or reset the key to allow more calls.",
            key=key,
            budget_usd=self._max_cost_usd if self._max_cost_usd is not None else math.inf,
            spent_usd=ledger.cost_usd,
            budget_tokens=self._max_tokens,
            spent_tokens=ledger.tokens,
        )

    async def _admit(self, request: LLMRequest) -> tuple[BudgetLedger, tuple[int, float]]:
        key = self._key(request)
        tokens = self._estimate(request)
        while True:
            ledger = self.ledger(key)
            if self._spent(ledger):
                raise self._refusal(key, ledger)
            usd = self._reserve_usd if self._reserve_usd is not None else ledger.largest_call_usd
            if self._fits(ledger, tokens, usd):
                ledger.in_flight += 1
                ledger.reserved_tokens += tokens
                ledger.reserved_usd += usd
                return ledger, (tokens, usd)
            if ledger.settled is None:
                ledger.settled = anyio.Event()
            await ledger.settled.wait()

    @staticmethod
    def _settle(
        ledger: BudgetLedger,
        *,
        reserved: tuple[int, float],
        tokens: int,
        cost_usd: float | None,
        billed: bool,
    ) -> None:
        # Synchronous on purpose: it runs in `finally`, cancellation included.
        ledger.in_flight -= 1
        ledger.reserved_tokens -= reserved[0]
        ledger.reserved_usd -= reserved[1]
        if billed:
            ledger.calls += 1
            ledger.tokens += tokens
            if cost_usd is None:
                ledger.unpriced_calls += 1
            else:
                ledger.cost_usd += cost_usd
                ledger.largest_call_usd = max(ledger.largest_call_usd, cost_usd)
        if ledger.settled is not None:
            ledger.settled.set()
            ledger.settled = None

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        ledger, reserved = await self._admit(request)
        try:
            response = await call_next(request)
        except BaseException:
            self._settle(ledger, reserved=reserved, tokens=0, cost_usd=None, billed=False)
            raise
        self._settle(
            ledger,
            reserved=reserved,
            tokens=response.tokens.total,
            cost_usd=response.cost_usd,
            billed=True,
        )
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        ledger, reserved = await self._admit(request)
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
                else:  # stopped early: the provider still bills what it sent
                    used = estimate_tokens(request, output_tokens=0) - (request.max_tokens or 0)
                    used += math.ceil(characters / 4)
                self._settle(
                    ledger,
                    reserved=reserved,
                    tokens=used,
                    cost_usd=final.cost_usd if final is not None else None,
                    billed=final is not None or characters > 0,
                )
