"""Cumulative token and cost counters: what ``client.usage`` holds.

Cost tracking records one entry per billed provider call (a stream counts once, from its
final chunk). Updates are synchronous, with no await in between, so concurrent calls on
one event loop never lose an update.

The counts are one `TokenCounts` (``usage.total.tokens``, ``usage.by_model[m].tokens``);
the flat names (``total_input_tokens``, ``by_model[m].input_tokens``...) read it.

An unknown price is ``None``, never 0: a `TokenUsage` (``usage.total``, each
``usage.by_model[m]``) none of whose calls had a known price has ``cost_usd=None``;
otherwise ``cost_usd`` sums the known prices, and ``unpriced_requests`` beside it counts
the calls it leaves out. ``usage.total_cost_usd`` is the one figure that is always a
number, so ``f"{usage.total_cost_usd:.6f}"`` works for every client: the dollars of the
priced calls (0.0 when none was priced); read ``usage.unpriced_requests`` with it.
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

    ``cost_usd`` sums the prices of the requests whose price is known, and is ``None``
    while none is (requests were counted, none priced): unknown, never 0.
    ``unpriced_requests`` counts the requests left out of it (their tokens are counted).
    ``input_tokens`` and the other flat names read ``tokens``.

    Attributes:
        requests: Billed provider calls.
        cost_usd: Dollars spent on the priced ones; ``None`` while none was priced.
        unpriced_requests: Calls whose price is unknown.
    """

    requests: int = 0
    cost_usd: float | None = 0.0
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
            if self.unpriced_requests == self.requests:
                self.cost_usd = None  # nothing counted here has a known price
        else:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd

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
