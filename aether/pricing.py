"""What a response cost: prices per model, memoised, from genai-prices or your own.

::

    from aether import Aether, ModelPricing

    client = Aether(prices={"my-finetune": ModelPricing(input_per_mtok=0.3, output_per_mtok=1.2)})

A `Pricer` answers "what did this response cost?" in about a microsecond. Prices come
from the genai-prices library (imported lazily, never by ``import aether``, and never
fetched from the network), looked up once per (provider, model); a `ModelPricing` you
give for a model name wins over the library. Token kinds (one `TokenCounts`) are priced
as the providers bill them: cached input tokens at the cache-read price, cache writes at
the cache-write price, reasoning tokens as output (every provider bills them so) or at
their own price where the library has one, and audio and image tokens at their own price
where the library has one (Gemini's audio input, say), else as the input or output text
they are part of.

A model with no known price costs ``None``, never ``0``: its tokens are still counted,
``usage.unpriced_requests`` counts it, and the ``aether.cost`` logger warns once per model.
The Fake provider's default model, ``fake-model``, is known to be free.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from aether import _price_library
from aether._price_library import LibraryModel, RateCard
from aether.llm.contracts import LLMResponse, StreamChunk, TokenCounts

__all__ = ["FREE", "ModelPricing", "Pricer"]

logger = logging.getLogger("aether.cost")


class ModelPricing(BaseModel):
    """Your price for one model, in US dollars per million tokens.

    Attributes:
        input_per_mtok: Uncached input tokens.
        output_per_mtok: Output tokens (reasoning ones included, unless priced apart).
        cached_input_per_mtok: Input tokens read from the prompt cache; defaults to the
            input price.
        cache_write_per_mtok: Input tokens written to the prompt cache; defaults to the
            input price.
        reasoning_per_mtok: Hidden reasoning tokens; defaults to the output price.
        input_audio_per_mtok: Audio input tokens; defaults to the input price.
        input_image_per_mtok: Image input tokens; defaults to the input price.
        output_audio_per_mtok: Audio output tokens; defaults to the output price.
        per_request: A flat fee per request, in dollars.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)
    reasoning_per_mtok: float | None = Field(default=None, ge=0)
    input_audio_per_mtok: float | None = Field(default=None, ge=0)
    input_image_per_mtok: float | None = Field(default=None, ge=0)
    output_audio_per_mtok: float | None = Field(default=None, ge=0)
    per_request: float = Field(default=0.0, ge=0)

    def rate_card(self) -> RateCard:
        """The per-token rates this pricing stands for."""
        input_rate = _per_token(self.input_per_mtok, Decimal(0))
        output_rate = _per_token(self.output_per_mtok, Decimal(0))
        return RateCard(
            input=input_rate,
            cache_read=_per_token(self.cached_input_per_mtok, input_rate),
            cache_write=_per_token(self.cache_write_per_mtok, input_rate),
            output=output_rate,
            reasoning=_per_token(self.reasoning_per_mtok, output_rate),
            per_request=Decimal(str(self.per_request)),
            input_audio=_per_token(self.input_audio_per_mtok, input_rate),
            input_image=_per_token(self.input_image_per_mtok, input_rate),
            output_audio=_per_token(self.output_audio_per_mtok, output_rate),
        )


def _per_token(per_mtok: float | None, default: Decimal) -> Decimal:
    if per_mtok is None:
        return default
    return Decimal(str(per_mtok)) / 1_000_000


FREE = ModelPricing(input_per_mtok=0, output_per_mtok=0)
"""A model that costs nothing (a local model, the Fake provider)."""

_BUILTIN_PRICES: dict[str, ModelPricing] = {"fake-model": FREE}

_NO_TOKENS = TokenCounts()


class Pricer:
    """Prices responses, memoising each (provider, model) lookup.

    One pricer per client is shared by cost tracking and the events middleware, so the
    price reported on ``request.complete`` is the one added to ``client.usage``.

    Args:
        prices: Your prices by model name (case-insensitive); they win over the library.
        provider: The provider name to assume when a response does not say.
    """

    __slots__ = ("_known", "_overrides", "_warned", "provider")

    def __init__(
        self,
        prices: Mapping[str, ModelPricing] | None = None,
        *,
        provider: str | None = None,
    ) -> None:
        merged = {**_BUILTIN_PRICES, **(prices or {})}
        self._overrides: dict[str, RateCard] = {
            name.lower(): pricing.rate_card() for name, pricing in merged.items()
        }
        self._known: dict[tuple[str | None, str], RateCard | LibraryModel | None] = {}
        self._warned: set[tuple[str | None, str]] = set()
        self.provider = provider

    def needs_library(self, model: str | None) -> bool:
        """Whether pricing ``model`` may import genai-prices, which is not yet loaded."""
        if _price_library.is_loaded():
            return False
        return model is None or model.lower() not in self._overrides

    async def prepare(self, model: str | None) -> None:
        """Load genai-prices in a worker thread if pricing ``model`` will need it.

        The first import takes about 0.3 s; doing it here keeps it off the event loop.
        Concurrent first calls share one load in one thread.
        """
        if self.needs_library(model):
            await _price_library.load_in_thread()

    def _entry(self, provider: str | None, model: str) -> RateCard | LibraryModel | None:
        key = (provider, model)
        try:
            return self._known[key]
        except KeyError:
            pass
        entry: RateCard | LibraryModel | None = self._overrides.get(model.lower())
        if entry is None:
            try:
                entry = _price_library.lookup(model, provider)
                if entry is not None:
                    entry = entry.fixed_card() or entry
            except Exception:
                # Pricing must never break a request: a genai-prices release that changed
                # what Aether relies on leaves the model unpriced, loudly.
                logger.exception("genai-prices could not price model %r; cost is None", model)
                entry = None
        self._known[key] = entry
        return entry

    def price(
        self,
        model: str | None,
        tokens: TokenCounts,
        *,
        provider: str | None = None,
        fallback_model: str | None = None,
    ) -> float | None:
        """The dollar price of one request, or ``None`` when the model's price is unknown.

        Args:
            model: The model that answered (as the server reported it).
            tokens: What the request billed, by kind.
            provider: The provider that answered; defaults to the pricer's.
            fallback_model: A second name to try (the model the request asked for).
        """
        return self._price(provider or self.provider, model, fallback_model, tokens)

    def _price(
        self,
        provider: str | None,
        model: str | None,
        fallback_model: str | None,
        tokens: TokenCounts,
    ) -> float | None:
        for name in (model, fallback_model):
            if not name:
                continue
            entry = self._known.get((provider, name))
            if entry is None:
                entry = self._entry(provider, name)
                if entry is None:
                    continue
            cost = entry.cost(tokens)
            if cost is not None:
                return cost
        self._warn_unpriced(provider, model or fallback_model or "(no model name)")
        return None

    def price_response(
        self, response: LLMResponse, *, requested_model: str | None = None
    ) -> float | None:
        """The price of ``response``; see `price`."""
        return self._price(
            response.provider or self.provider, response.model, requested_model, response.tokens
        )

    def price_final_chunk(
        self, chunk: StreamChunk, *, requested_model: str | None = None
    ) -> float | None:
        """The price of the stream that ``chunk`` (its final chunk) ends; see `price`."""
        return self._price(
            chunk.provider or self.provider,
            chunk.model,
            requested_model,
            chunk.tokens if chunk.tokens is not None else _NO_TOKENS,
        )

    def _warn_unpriced(self, provider: str | None, model: str) -> None:
        key = (provider, model)
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning(
            "no price is known for model %r (provider %r): its cost is recorded as None and "
            "counted in usage.unpriced_requests. Give one with "
            "Aether(prices={%r: ModelPricing(input_per_mtok=..., output_per_mtok=...)}).",
            model,
            provider,
            model,
        )

    def clear(self) -> None:
        """Forget memoised lookups (after you changed genai-prices' data, say)."""
        self._known.clear()
        self._warned.clear()

    def __repr__(self) -> str:
        return f"Pricer(provider={self.provider!r}, models={len(self._known)})"
