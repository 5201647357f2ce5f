"""Cost tracking: count what billed into a `Usage`, price it, and enforce a budget.

Outermost in the default stack, so it sees one response per logical provider call: an
attempt that failed and was retried is not counted, and neither is a call the circuit
breaker refused. A stream is counted once, from its final chunk (which carries the token
counts); a stream abandoned or failing before its final chunk records nothing, because
the provider has not reported what it billed.

The price is set on the response (``response.cost_usd``) and on the stream's final chunk,
and added to ``usage``. With a budget, a call made once ``usage.total_cost_usd`` has
reached it fails with `BudgetExceededError` before anything is sent. Calls already in
flight when the budget runs out still finish, so the total can overshoot by what they
cost. Unpriced calls (see `aether.pricing`) do not count against the budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aether.config import number_problem
from aether.errors import BudgetExceededError, ConfigurationError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, TokenCounts
from aether.llm.streaming import aclose_stream
from aether.pipeline import CallNext, StreamNext
from aether.pricing import Pricer
from aether.usage import Usage

__all__ = ["CostTrackingMiddleware"]

_NO_TOKENS = TokenCounts()


class CostTrackingMiddleware:
    """Records tokens and dollars per billed call into ``usage``; enforces a budget.

    Args:
        usage: Where to count (``client.usage`` in the default stack).
        pricer: Prices responses; share it with `EventsMiddleware` so events report the
            same figure. A new `Pricer` by default.
        budget_usd: Refuse calls once this many dollars have been spent.

    Raises:
        ConfigurationError: If ``budget_usd`` is negative.
    """

    name = "CostTracking"

    __slots__ = ("budget_usd", "pricer", "usage")

    def __init__(
        self,
        usage: Usage,
        *,
        pricer: Pricer | None = None,
        budget_usd: float | None = None,
    ) -> None:
        problem = budget_usd is not None and number_problem(
            "budget_usd", budget_usd, minimum=0, unit=" dollars"
        )
        if problem:
            raise ConfigurationError(problem)
        self.usage = usage
        self.pricer = pricer if pricer is not None else Pricer()
        self.budget_usd = budget_usd

    def _check_budget(self) -> None:
        budget = self.budget_usd
        if budget is None:
            return
        spent = self.usage.total_cost_usd
        if spent >= budget:
            raise BudgetExceededError(
                f"the budget of ${budget:.6f} is spent (${spent:.6f} so far), so the "
                f"request was not sent. Raise budget_usd, or call usage.reset() to start "
                f"counting again.",
                budget_usd=budget,
                spent_usd=spent,
            )

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request`` and count its response.

        Raises:
            BudgetExceededError: The budget is spent; nothing was sent.
        """
        self._check_budget()
        pricer = self.pricer
        if pricer.needs_library(request.model):
            await pricer.prepare(request.model)
        response = await call_next(request)
        cost = response.cost_usd
        if cost is None:
            cost = pricer.price_response(response, requested_model=request.model)
            if cost is not None:
                response = response.model_copy(update={"cost_usd": cost})
        self.usage.record(request.model or response.model, response.tokens, cost_usd=cost)
        return response

    def _count_final(self, request: LLMRequest, chunk: StreamChunk) -> StreamChunk:
        cost = chunk.cost_usd
        if cost is None:
            cost = self.pricer.price_final_chunk(chunk, requested_model=request.model)
            if cost is not None:
                chunk = chunk.model_copy(update={"cost_usd": cost})
        tokens = chunk.tokens if chunk.tokens is not None else _NO_TOKENS
        self.usage.record(request.model or chunk.model or "unknown", tokens, cost_usd=cost)
        return chunk

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        """Stream ``request``; count it when its final chunk passes.

        Raises:
            BudgetExceededError: The budget is spent; nothing was sent.
        """
        self._check_budget()
        pricer = self.pricer
        if pricer.needs_library(request.model):
            await pricer.prepare(request.model)
        inner = call_next(request)
        started = finished = False
        try:
            async for chunk in inner:
                started = True
                if chunk.finish_reason is not None:
                    finished = True
                    chunk = self._count_final(request, chunk)
                yield chunk
        finally:
            if started and not finished:
                # Content arrived, so the provider billed something, but the stream
                # stopped before its usage: counted apart, never guessed.
                self.usage.incomplete_streams += 1
            await aclose_stream(inner)

    def __repr__(self) -> str:
        return f"CostTrackingMiddleware(budget_usd={self.budget_usd!r}, usage={self.usage!r})"
