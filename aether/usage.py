"""Cumulative token and cost counters: what ``client.usage`` holds.

Cost tracking records one entry per billed provider call (a stream counts once, from its
final chunk). Updates are synchronous, with no await in between, so concurrent calls on
one event loop never lose an update.

An unknown price is ``None``, never 0: a `TokenUsage` (``usage.total``, each
``usage.by_model[m]``) none of whose calls had a known price has ``cost_usd=None``;
otherwise ``cost_usd`` sums the known prices, and ``unpriced_requests`` beside it counts
the calls it leaves out. ``usage.total_cost_usd`` is the one figure that is always a
number, so ``f"{usage.total_cost_usd:.6f}"`` works for every client: the dollars of the
priced calls (0.0 when none was priced); read ``usage.unpriced_requests`` with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TokenUsage", "Usage"]


@dataclass(slots=True)
class TokenUsage:
    """Counters for one model (or, as ``usage.total``, for every model).

    ``cost_usd`` sums the prices of the requests whose price is known, and is ``None``
    while none is (requests were counted, none priced): unknown, never 0.
    ``unpriced_requests`` counts the requests left out of it (their tokens are counted).
    """

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = 0.0
    unpriced_requests: int = 0

    def add(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Count one billed request."""
        self.requests += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cached_input_tokens += cached_input_tokens
        self.cache_write_tokens += cache_write_tokens
        self.reasoning_tokens += reasoning_tokens
        if cost_usd is None:
            self.unpriced_requests += 1
            if self.unpriced_requests == self.requests:
                self.cost_usd = None  # nothing counted here has a known price
        else:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd


@dataclass(slots=True)
class Usage:
    """Everything a client has spent, in total and per model (``by_model``)."""

    total: TokenUsage = field(default_factory=TokenUsage)
    by_model: dict[str, TokenUsage] = field(default_factory=dict)
    incomplete_streams: int = 0
    """Streams that produced content but stopped before their final chunk (the consumer
    stopped early, a cancellation, a break mid-way): billed by the provider, but their
    usage was never reported, so neither their tokens nor their cost are in the totals."""

    def record(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Count one billed request for ``model``."""
        per_model = self.by_model.get(model)
        if per_model is None:
            per_model = self.by_model[model] = TokenUsage()
        for counters in (self.total, per_model):
            counters.add(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cached_input_tokens=cached_input_tokens,
                cache_write_tokens=cache_write_tokens,
                reasoning_tokens=reasoning_tokens,
                cost_usd=cost_usd,
            )

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.total = TokenUsage()
        self.by_model = {}
        self.incomplete_streams = 0

    @property
    def total_requests(self) -> int:
        """Billed provider calls."""
        return self.total.requests

    @property
    def total_input_tokens(self) -> int:
        """Input tokens over every billed call."""
        return self.total.input_tokens

    @property
    def total_output_tokens(self) -> int:
        """Output tokens over every billed call."""
        return self.total.output_tokens

    @property
    def total_cached_input_tokens(self) -> int:
        """Input tokens read from a provider's prompt cache."""
        return self.total.cached_input_tokens

    @property
    def total_cache_write_tokens(self) -> int:
        """Input tokens written to a provider's prompt cache."""
        return self.total.cache_write_tokens

    @property
    def total_reasoning_tokens(self) -> int:
        """Output tokens spent on hidden reasoning."""
        return self.total.reasoning_tokens

    @property
    def total_cost_usd(self) -> float:
        """Dollars spent on the calls whose price is known; 0.0 while none is.

        Always a number, so it formats (``f"{usage.total_cost_usd:.6f}"``). It leaves
        out the calls counted in ``unpriced_requests``; ``usage.total.cost_usd`` is
        ``None`` while every call was unpriced.
        """
        return self.total.cost_usd or 0.0

    @property
    def unpriced_requests(self) -> int:
        """Billed calls to models with no known price; their cost is not in the total."""
        return self.total.unpriced_requests
