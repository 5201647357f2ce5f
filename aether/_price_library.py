"""Prices from the genai-prices library, turned into rate cards that cost a microsecond.

``genai_prices.calc_price`` costs about 110-220 µs a call (it decomposes the usage into
priced units every time) and importing the package about 300 ms. Aether therefore imports
it lazily, looks each (provider, model) up once, and derives from the library's own
arithmetic a `RateCard`: the price of one token of each kind `TokenCounts` counts
(uncached text input, cache read, cache write, input audio, input image, output text,
reasoning, output audio), plus any per-request fee. A rate card is checked against the
library on a sample usage holding every kind at once when it is made; a model whose price
does not fit that shape is priced by the library on every call instead (slow, but exact).

Token kinds the library has no price for cost what their parent kind costs (audio input
without an audio price is input), as genai-prices itself decides. `TokenCounts` has no
per-modality cache counts, so cached input is priced as a text cache read (the library is
told explicitly that no audio or image tokens were cached; without that it refuses to
price a usage that reports both cache reads and audio for a model with an audio cache
price, such as Gemini 2.5 Flash).

Prices that depend on the time (a start date, an off-peak window) are re-selected on each
call; long-context tiers get one rate card per tier. Price variants (batch, priority and
flex tiers) are not applied: Aether prices the standard tier.
"""

from __future__ import annotations

import bisect
import importlib
import threading
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio.to_thread
from anyio.lowlevel import RunVar

from aether.llm.contracts import TokenCounts

__all__ = ["LibraryModel", "RateCard", "is_loaded", "load", "load_in_thread", "lookup"]

_MTOK = 1_000_000
_PROVIDER_IDS = {
    "gemini": "google",
    "vertex": "google",
    "vertexai": "google",
    "openai-responses": "openai",
}
"""Aether provider names whose genai-prices id differs."""

_library: Any = None
_load_lock = threading.Lock()


@dataclass(slots=True)
class _Flight:
    """The one load under way in an event loop, and how it ended."""

    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None


_flight: RunVar[_Flight | None] = RunVar("aether_price_library_flight", default=None)


@dataclass(frozen=True, slots=True)
class RateCard:
    """Dollars per token of each kind, and per request, as exact decimals.

    `cost` works in integers: each rate is scaled to a whole number of
    ``10 ** -scale`` dollars, the counts are multiplied exactly, and the one division at
    the end rounds correctly, so the float it returns is the float of the exact decimal
    price (the figure genai-prices gives) at a fraction of the cost of `Decimal`.
    """

    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    per_request: Decimal = Decimal(0)
    input_audio: Decimal | None = None
    """Defaults to ``input``, as do ``input_image``; ``output_audio`` to ``output``."""
    input_image: Decimal | None = None
    output_audio: Decimal | None = None
    _units: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _denominator: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rates = self._rates()
        scale = max(0, *(-int(rate.as_tuple().exponent) for rate in rates))
        units = tuple(int(rate.scaleb(scale)) for rate in rates)
        object.__setattr__(self, "_units", units)
        object.__setattr__(self, "_denominator", 10**scale)

    def _rates(self) -> tuple[Decimal, ...]:
        return (
            self.input,
            self.cache_read,
            self.cache_write,
            self.output,
            self.reasoning,
            self.per_request,
            self.input if self.input_audio is None else self.input_audio,
            self.input if self.input_image is None else self.input_image,
            self.output if self.output_audio is None else self.output_audio,
        )

    def cost(self, tokens: TokenCounts) -> float:
        """The price of one request with these token counts, correctly rounded."""
        total: int = self._total(self._units, tokens)
        return total / self._denominator

    def exact_cost(self, tokens: TokenCounts) -> Decimal:
        """`cost` as an exact `Decimal` (used to check a card against the library)."""
        total: Decimal = self._total(self._rates(), tokens)
        return total

    @staticmethod
    def _total(rates: tuple[Any, ...], tokens: TokenCounts) -> Any:
        (input_rate, cache_read, cache_write, output, reasoning, fee, input_audio,
         input_image, output_audio) = rates  # fmt: skip
        counts = tokens.__dict__
        cached = counts["cached_input"]
        written = counts["cache_write"]
        audio_in = counts["input_audio"]
        image_in = counts["input_image"]
        thinking = counts["reasoning"]
        audio_out = counts["output_audio"]
        text_in = max(0, counts["input"] - cached - written - audio_in - image_in)
        text_out = max(0, counts["output"] - thinking - audio_out)
        total = fee + input_rate * text_in + output * text_out
        if cached:
            total += cache_read * cached
        if written:
            total += cache_write * written
        if thinking:
            total += reasoning * thinking
        if audio_in or image_in or audio_out:
            total += input_audio * audio_in + input_image * image_in + output_audio * audio_out
        return total


def is_loaded() -> bool:
    """Whether genai-prices has been imported (by `load`)."""
    return _library is not None


def load() -> None:
    """Import genai-prices and its bundled price data (blocking: about 0.3 s once)."""
    global _library
    if _library is not None:
        return
    with _load_lock:  # threads of several event loops, or plain threads
        if _library is None:
            snapshot_module = importlib.import_module("genai_prices.data_snapshot")
            snapshot_module.get_snapshot()
            _library = snapshot_module


async def load_in_thread() -> None:
    """`load` in a worker thread, once however many tasks ask at the same time.

    The first task to ask starts the one thread; the others wait for it, so a burst of
    first requests takes one thread from anyio's limiter, not one each. If that load
    fails, its waiters fail too, each with its own error (re-raising one shared
    exception would grow its traceback with every raise), caused by the load's.

    Raises:
        RuntimeError: Another task's load of genai-prices, which this one waited for,
            failed (its error is the cause).
    """
    while _library is None:
        flight = _flight.get()
        if flight is not None:
            await flight.done.wait()
            if flight.error is not None:
                raise RuntimeError(
                    f"genai-prices could not be loaded: {flight.error!r}"
                ) from flight.error
            continue
        flight = _Flight()
        _flight.set(flight)
        try:
            await anyio.to_thread.run_sync(load)
        except BaseException as error:
            flight.error = error
            raise
        finally:
            _flight.set(None)
            flight.done.set()


_UNCACHED_MEDIA = {
    "cache_audio_read_tokens": 0,
    "cache_audio_write_tokens": 0,
    "cache_image_read_tokens": 0,
    "cache_image_write_tokens": 0,
}
"""Told to the library explicitly: cached tokens are counted as text (see the docstring)."""


def _usage(tokens: TokenCounts) -> Any:
    """genai-prices' ``Usage`` for ``tokens``."""
    types = importlib.import_module("genai_prices.types")
    counts = {
        "input_tokens": tokens.input,
        "output_tokens": tokens.output,
        "cache_read_tokens": tokens.cached_input,
        "cache_write_tokens": tokens.cache_write,
        "output_reasoning_tokens": tokens.reasoning,
        "input_audio_tokens": tokens.input_audio,
        "input_image_tokens": tokens.input_image,
        "output_audio_tokens": tokens.output_audio,
    }
    return types.Usage(**{key: value for key, value in counts.items() if value}, **_UNCACHED_MEDIA)


def _flatten(prices: Any, input_tokens: int) -> Any:
    """``prices`` with each long-context tier resolved for a request of ``input_tokens``."""
    tiered_type = importlib.import_module("genai_prices.types").TieredPrices
    flat = copy(prices)
    for key, value in list(prices.__dict__.items()):
        if isinstance(value, tiered_type):
            applicable = value.base
            for tier in reversed(value.tiers):
                if input_tokens > tier.start:
                    applicable = tier.price
                    break
            flat.__dict__[key] = applicable
    return flat


_SAMPLE = {
    "input": 7_919,
    "cached_input": 1_013,
    "cache_write": 503,
    "input_audio": 211,
    "input_image": 97,
    "output": 2_111,
    "reasoning": 307,
    "output_audio": 53,
}
"""A usage holding every kind at once, with counts that share no factor."""


def _rate_card(prices: Any) -> RateCard | None:
    """Derive a rate card from flat ``prices``; ``None`` if the price is not that shape."""

    def total(**counts: int) -> Decimal:
        return Decimal(prices.calc_price(_usage(TokenCounts(**counts)))["total_price"])

    def rate(**counts: int) -> Decimal:
        return (total(**counts) - fee) / _MTOK

    try:
        fee = total()
        card = RateCard(
            input=rate(input=_MTOK),
            cache_read=rate(input=_MTOK, cached_input=_MTOK),
            cache_write=rate(input=_MTOK, cache_write=_MTOK),
            output=rate(output=_MTOK),
            reasoning=rate(output=_MTOK, reasoning=_MTOK),
            per_request=fee,
            input_audio=rate(input=_MTOK, input_audio=_MTOK),
            input_image=rate(input=_MTOK, input_image=_MTOK),
            output_audio=rate(output=_MTOK, output_audio=_MTOK),
        )
        sample = TokenCounts(**_SAMPLE)
        expected = total(**_SAMPLE)
    except (ValueError, ArithmeticError):
        return None
    if card.exact_cost(sample) != expected:
        return None
    return card


@dataclass(slots=True)
class LibraryModel:
    """One model as genai-prices knows it, with its rate cards made on demand."""

    info: Any
    _cards: dict[tuple[int, int], tuple[Any, RateCard | None]] = field(default_factory=dict)
    _thresholds: dict[int, list[int]] = field(default_factory=dict)

    def fixed_card(self) -> RateCard | None:
        """The one rate card of a model whose price depends on neither time nor size."""
        prices = self.info.prices
        if isinstance(prices, list) or _tier_starts(prices):
            return None
        return _rate_card(prices)

    def _prices(self) -> Any:
        prices = self.info.prices
        if isinstance(prices, list):
            return self.info.get_prices(datetime.now(tz=UTC))
        return prices

    def cost(self, tokens: TokenCounts) -> float | None:
        """The price of one request, or ``None`` if the library cannot price it."""
        prices = self._prices()
        thresholds = self._thresholds.get(id(prices))
        if thresholds is None:
            thresholds = self._thresholds[id(prices)] = _tier_starts(prices)
        tier = bisect.bisect_left(thresholds, tokens.input) if thresholds else 0
        entry = self._cards.get((id(prices), tier))
        if entry is None:
            flat = _flatten(prices, tokens.input) if thresholds else prices
            entry = self._cards[(id(prices), tier)] = (flat, _rate_card(flat))
        flat, card = entry
        if card is not None:
            return card.cost(tokens)
        try:
            return float(flat.calc_price(_usage(tokens))["total_price"])
        except (ValueError, ArithmeticError):
            return None


def _tier_starts(prices: Any) -> list[int]:
    tiered_type = importlib.import_module("genai_prices.types").TieredPrices
    starts = {
        tier.start
        for value in prices.__dict__.values()
        if isinstance(value, tiered_type)
        for tier in value.tiers
    }
    return sorted(starts)


def lookup(model: str, provider: str | None) -> LibraryModel | None:
    """Find ``model`` in genai-prices, under ``provider`` when the library knows it.

    A provider the library does not know (``fake``, a local server) is ignored and the
    model is matched by name alone. Returns ``None`` for a model it cannot find.
    """
    load()
    snapshot = _library.get_snapshot()
    provider_id: str | None = None
    if provider:
        candidate = _PROVIDER_IDS.get(provider.lower(), provider.lower())
        if _library.find_provider_by_id(snapshot.providers, candidate) is not None:
            provider_id = candidate
    try:
        _, info = snapshot.find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    return LibraryModel(info)
