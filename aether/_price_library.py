"""Prices from the genai-prices library, turned into rate cards that cost a microsecond.

``genai_prices.calc_price`` costs about 110-220 µs a call (it decomposes the usage into
priced units every time) and importing the package about 300 ms. Aether therefore imports
it lazily, looks each (provider, model) up once, and derives from the library's own
arithmetic a `RateCard`: the price of one uncached input token, one cache read, one cache
write, one output token and one reasoning token, plus any per-request fee. A rate card is
checked against the library on a sample usage when it is made; a model whose price does
not fit that shape is priced by the library on every call instead (slow, but exact).

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
    _units: tuple[int, int, int, int, int, int] = field(init=False, repr=False, compare=False)
    _denominator: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rates = (
            self.input,
            self.cache_read,
            self.cache_write,
            self.output,
            self.reasoning,
            self.per_request,
        )
        scale = max(0, *(-int(rate.as_tuple().exponent) for rate in rates))
        units = tuple(int(rate.scaleb(scale)) for rate in rates)
        object.__setattr__(self, "_units", units)
        object.__setattr__(self, "_denominator", 10**scale)

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int,
        cache_write_tokens: int,
        reasoning_tokens: int,
    ) -> float:
        """The price of one request with these token counts, correctly rounded."""
        input_rate, cache_read, cache_write, output, reasoning, fee = self._units
        uncached = max(0, input_tokens - cached_input_tokens - cache_write_tokens)
        visible_output = max(0, output_tokens - reasoning_tokens)
        total = (
            fee
            + input_rate * uncached
            + cache_read * cached_input_tokens
            + cache_write * cache_write_tokens
            + output * visible_output
            + reasoning * reasoning_tokens
        )
        return total / self._denominator

    def exact_cost(self, *counts: int) -> Decimal:
        """`cost` as an exact `Decimal` (used to check a card against the library)."""
        input_tokens, output_tokens, cached, written, reasoning = counts
        return (
            self.per_request
            + self.input * max(0, input_tokens - cached - written)
            + self.cache_read * cached
            + self.cache_write * written
            + self.output * max(0, output_tokens - reasoning)
            + self.reasoning * reasoning
        )


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


def _usage(**counts: int) -> Any:
    types = importlib.import_module("genai_prices.types")
    return types.Usage(**{key: value for key, value in counts.items() if value})


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


def _rate_card(prices: Any) -> RateCard | None:
    """Derive a rate card from flat ``prices``; ``None`` if the price is not that shape."""

    def total(**counts: int) -> Decimal:
        return Decimal(prices.calc_price(_usage(**counts))["total_price"])

    try:
        fee = total()
        card = RateCard(
            input=(total(input_tokens=_MTOK) - fee) / _MTOK,
            cache_read=(total(input_tokens=_MTOK, cache_read_tokens=_MTOK) - fee) / _MTOK,
            cache_write=(total(input_tokens=_MTOK, cache_write_tokens=_MTOK) - fee) / _MTOK,
            output=(total(output_tokens=_MTOK) - fee) / _MTOK,
            reasoning=(total(output_tokens=_MTOK, output_reasoning_tokens=_MTOK) - fee) / _MTOK,
            per_request=fee,
        )
        sample = {
            "input_tokens": 7_919,
            "cache_read_tokens": 1_013,
            "cache_write_tokens": 503,
            "output_tokens": 2_111,
            "output_reasoning_tokens": 307,
        }
        expected = total(**sample)
    except (ValueError, ArithmeticError):
        return None
    if card.exact_cost(7_919, 2_111, 1_013, 503, 307) != expected:
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

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int,
        cache_write_tokens: int,
        reasoning_tokens: int,
    ) -> float | None:
        """The price of one request, or ``None`` if the library cannot price it."""
        prices = self._prices()
        thresholds = self._thresholds.get(id(prices))
        if thresholds is None:
            thresholds = self._thresholds[id(prices)] = _tier_starts(prices)
        tier = bisect.bisect_left(thresholds, input_tokens) if thresholds else 0
        entry = self._cards.get((id(prices), tier))
        if entry is None:
            flat = _flatten(prices, input_tokens) if thresholds else prices
            entry = self._cards[(id(prices), tier)] = (flat, _rate_card(flat))
        flat, card = entry
        if card is not None:
            return card.cost(
                input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                reasoning_tokens,
            )  # fmt: skip
        try:
            usage = _usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cached_input_tokens,
                cache_write_tokens=cache_write_tokens,
                output_reasoning_tokens=reasoning_tokens,
            )
            return float(flat.calc_price(usage)["total_price"])
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
