"""Cumulative token and cost counters: what ``client.usage`` holds.

Cost tracking records one entry per billed provider call (a stream counts once, from its
final chunk). Updates are synchronous, with no await in between, so concurrent calls on
one event loop never lose an update.

The counts are one `TokenCounts` (``usage.total.tokens``, ``usage.by_model[m].tokens``);
the flat names (``total_input_tokens``, ``by_model[m].input_tokens``...) read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aether.llm.contracts import TokenCounts, _FlatCounts

__all__ = ["TokenUsage", "Usage"]

_KINDS = tuple(TokenCounts.model_fields)


def _zeros() -> list[int]:
    return [0] * len(_KINDS)


@dataclass(slots=True)
class TokenUsage(_FlatCounts):
    """Counters for one model (or for every model, as ``usage.total``).

    ``cost_usd`` sums the priced requests only; ``unpriced_requests`` counts those whose
    price is unknown (their tokens are still counted). ``input_tokens`` and the other
    flat names read ``tokens``.

    Attributes:
        requests: Billed provider calls.
        cost_usd: Dollars spent on the priced ones.
        unpriced_requests: Calls whose price is unknown.
    """

    requests: int = 0
    cost_usd: float = 0.0
    unpriced_requests: int = 0
    # A running sum is a counter, not a value: adding into a list of ints costs a third
    # of building a new TokenCounts, twice per billed call. `tokens` reads it as one.
    _counts: list[int] = field(default_factory=_zeros, repr=False)

    def add(self, tokens: TokenCounts, *, cost_usd: float | None = None) -> None:
        """Count one billed request."""
        self.requests += 1
        counts = self._counts
        values = tokens.__dict__
        for index, kind in enumerate(_KINDS):
            counts[index] += values[kind]
        if cost_usd is None:
            self.unpriced_requests += 1
        else:
            self.cost_usd += cost_usd

    @property
    def tokens(self) -> TokenCounts:
        """The tokens counted so far, summed by kind."""
        return TokenCounts(**dict(zip(_KINDS, self._counts, strict=True)))

    def __repr__(self) -> str:
        return (
            f"TokenUsage(requests={self.requests}, tokens={self.tokens!r}, "
            f"cost_usd={self.cost_usd!r}, unpriced_requests={self.unpriced_requests})"
        )


@dataclass(slots=True)
class Usage:
    """Everything a client has spent, in total and per model (``by_model``)."""

    total: TokenUsage = field(default_factory=TokenUsage)
    by_model: dict[str, TokenUsage] = field(default_factory=dict)
    incomplete_streams: int = 0
    """Streams that produced content but stopped before their final chunk (the consumer
    stopped early, a cancellation, a break mid-way): billed by the provider, but their
    usage was never reported, so neither their tokens nor their cost are in the totals."""

    def record(self, model: str, tokens: TokenCounts, *, cost_usd: float | None = None) -> None:
        """Count one billed request for ``model``."""
        per_model = self.by_model.get(model)
        if per_model is None:
            per_model = self.by_model[model] = TokenUsage()
        self.total.add(tokens, cost_usd=cost_usd)
        per_model.add(tokens, cost_usd=cost_usd)

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.total = TokenUsage()
        self.by_model = {}
        self.incomplete_streams = 0

    @property
    def tokens(self) -> TokenCounts:
        """Every billed call's token counts, summed by kind."""
        return self.total.tokens

    @property
    def total_requests(self) -> int:
        """Billed provider calls."""
        return self.total.requests

    @property
    def total_input_tokens(self) -> int:
        """Input tokens over every billed call."""
        return self.total.tokens.input

    @property
    def total_output_tokens(self) -> int:
        """Output tokens over every billed call."""
        return self.total.tokens.output

    @property
    def total_cached_input_tokens(self) -> int:
        """Input tokens read from a provider's prompt cache."""
        return self.total.tokens.cached_input

    @property
    def total_cache_write_tokens(self) -> int:
        """Input tokens written to a provider's prompt cache."""
        return self.total.tokens.cache_write

    @property
    def total_reasoning_tokens(self) -> int:
        """Output tokens spent on hidden reasoning."""
        return self.total.tokens.reasoning

    @property
    def total_cost_usd(self) -> float:
        """Dollars spent on calls whose price is known (see ``unpriced_requests``)."""
        return self.total.cost_usd

    @property
    def unpriced_requests(self) -> int:
        """Billed calls to models with no known price; their cost is not in the total."""
        return self.total.unpriced_requests
