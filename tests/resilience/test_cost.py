"""Pricing and cost tracking: exact prices, unknown models, usage, budgets."""

from __future__ import annotations

import logging
import subprocess
import sys
from contextlib import aclosing
from decimal import Decimal

import anyio
import anyio.lowlevel
import pytest
from genai_prices import Usage as LibraryUsage
from genai_prices import calc_price
from hypothesis import given
from hypothesis import strategies as st

from aether import (
    Aether,
    BudgetExceededError,
    ConfigurationError,
    LLMRequest,
    LLMResponse,
    ModelPricing,
    RetryPolicy,
    ServerError,
    TokenCounts,
)
from aether import _price_library as price_library
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.pricing import Pricer

pytestmark = pytest.mark.anyio


def library_price(model: str, provider_id: str, **counts: int) -> float:
    """What genai-prices itself charges for ``counts`` (its own usage keys)."""
    usage = LibraryUsage(**counts)
    return float(calc_price(usage, model, provider_id=provider_id).total_price)


def answer(model: str = "gpt-4o-mini", **tokens: int) -> LLMResponse:
    counts = {"input_tokens": 1000, "output_tokens": 500, **tokens}
    return LLMResponse(text="ok", model=model, provider="openai", **counts)


# -- exact prices against genai-prices ------------------------------------------------------


def test_gpt_4o_mini_price_matches_the_library() -> None:
    cost = Pricer().price("gpt-4o-mini", TokenCounts(input=1000, output=500), provider="openai")
    assert cost == library_price("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=500)
    assert cost == 0.00045  # $0.15 and $0.60 per million


def test_gpt_4o_mini_cached_input_is_priced_at_the_cache_read_rate() -> None:
    cost = Pricer().price(
        "gpt-4o-mini", TokenCounts(input=1000, cached_input=200, output=500), provider="openai"
    )
    assert cost == library_price(
        "gpt-4o-mini", "openai", input_tokens=1000, cache_read_tokens=200, output_tokens=500
    )
    assert cost == 0.000435  # 800 × 0.15 + 200 × 0.075 + 500 × 0.60, per million


def test_gemini_price_matches_the_library_under_the_gemini_provider_name() -> None:
    cost = Pricer().price(
        "gemini-2.0-flash",
        TokenCounts(input=12_345, cached_input=2_000, output=678),
        provider="gemini",
    )
    assert cost == library_price(
        "gemini-2.0-flash",
        "google",
        input_tokens=12_345,
        cache_read_tokens=2_000,
        output_tokens=678,
    )


def test_long_context_tier_is_priced_as_the_library_prices_it() -> None:
    pricer = Pricer()
    short = pricer.price("gemini-2.5-pro", TokenCounts(input=1000, output=100), provider="gemini")
    long = pricer.price("gemini-2.5-pro", TokenCounts(input=250_000, output=100), provider="gemini")
    assert short == library_price("gemini-2.5-pro", "google", input_tokens=1000, output_tokens=100)
    assert long == library_price(
        "gemini-2.5-pro", "google", input_tokens=250_000, output_tokens=100
    )
    assert long is not None
    assert short is not None
    assert long / 250 > short / 1  # the tier above 200k tokens costs more per token


def test_cache_writes_are_priced_as_the_library_prices_them() -> None:
    cost = Pricer().price(
        "claude-sonnet-4-5",
        TokenCounts(input=5_000, cache_write=3_000, cached_input=1_000, output=700),
        provider="anthropic",
    )
    assert cost == library_price(
        "claude-sonnet-4-5",
        "anthropic",
        input_tokens=5_000,
        cache_write_tokens=3_000,
        cache_read_tokens=1_000,
        output_tokens=700,
    )


def test_reasoning_tokens_are_priced_as_the_library_prices_them() -> None:
    cost = Pricer().price(
        "o3-mini", TokenCounts(input=400, output=2_000, reasoning=1_500), provider="openai"
    )
    assert cost == library_price(
        "o3-mini", "openai", input_tokens=400, output_tokens=2_000, output_reasoning_tokens=1_500
    )


def test_audio_input_is_priced_at_its_own_rate_where_the_library_has_one() -> None:
    tokens = TokenCounts(input=10_000, input_audio=4_000, output=300)
    cost = Pricer().price("gemini-2.5-flash", tokens, provider="gemini")
    assert cost == library_price(
        "gemini-2.5-flash", "google", input_tokens=10_000, input_audio_tokens=4_000,
        output_tokens=300,
    )  # fmt: skip
    text_only = Pricer().price("gemini-2.5-flash", TokenCounts(input=10_000, output=300))
    assert cost is not None
    assert text_only is not None
    assert cost > text_only


def test_cached_input_beside_audio_is_priced_as_a_text_cache_read() -> None:
    # genai-prices refuses this usage unless told how much audio was cached; TokenCounts
    # has no per-modality cache counts, so Aether tells it none was.
    tokens = TokenCounts(input=10_000, cached_input=2_000, input_audio=1_000, output=50)
    cost = Pricer().price("gemini-2.5-flash", tokens, provider="gemini")
    assert cost == library_price(
        "gemini-2.5-flash", "google", input_tokens=10_000, cache_read_tokens=2_000,
        input_audio_tokens=1_000, cache_audio_read_tokens=0, output_tokens=50,
    )  # fmt: skip


def test_image_input_and_audio_output_are_priced_as_the_library_prices_them() -> None:
    tokens = TokenCounts(input=3_000, input_image=1_290, output=900, output_audio=600)
    cost = Pricer().price("gemini-live-2.5-flash", tokens, provider="gemini")
    assert cost == library_price(
        "gemini-live-2.5-flash", "google", input_tokens=3_000, input_image_tokens=1_290,
        output_tokens=900, output_audio_tokens=600,
    )  # fmt: skip


def test_media_tokens_without_their_own_price_cost_what_text_costs() -> None:
    with_media = TokenCounts(input=1_000, input_image=600, input_audio=100, output=80)
    assert Pricer().price("gpt-4o-mini", with_media, provider="openai") == Pricer().price(
        "gpt-4o-mini", TokenCounts(input=1_000, output=80), provider="openai"
    )


def test_reasoning_tokens_are_billed_as_output_where_they_have_no_price_of_their_own() -> None:
    pricer = Pricer()
    thinking = pricer.price("o3-mini", TokenCounts(input=10, output=2_000, reasoning=1_500))
    visible = pricer.price("o3-mini", TokenCounts(input=10, output=2_000))
    assert thinking == visible is not None


@given(
    rates=st.lists(
        st.decimals(min_value=0, max_value=100, places=9, allow_nan=False), min_size=9, max_size=9
    ),
    counts=st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=8, max_size=8),
)
def test_rate_card_float_is_the_correctly_rounded_exact_price(
    rates: list[Decimal], counts: list[int]
) -> None:
    card = price_library.RateCard(*(rate / 1_000_000 for rate in rates))
    tokens = TokenCounts(**dict(zip(TokenCounts.model_fields, counts, strict=True)))
    assert card.cost(tokens) == float(card.exact_cost(tokens))


def test_each_model_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[str] = []
    original = price_library.lookup

    def counting_lookup(model: str, provider: str | None) -> price_library.LibraryModel | None:
        lookups.append(model)
        return original(model, provider)

    monkeypatch.setattr(price_library, "lookup", counting_lookup)
    pricer = Pricer()
    for _ in range(3):
        pricer.price("gpt-4o-mini", TokenCounts(input=10, output=10), provider="openai")
    assert lookups == ["gpt-4o-mini"]


# -- unknown models and your own prices ------------------------------------------------------


def test_unknown_model_costs_none_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    pricer = Pricer()
    with caplog.at_level(logging.WARNING, logger="aether.cost"):
        first = pricer.price("no-such-model-7b", TokenCounts(input=5, output=5), provider="openai")
        second = pricer.price("no-such-model-7b", TokenCounts(input=5, output=5), provider="openai")
    assert first is None
    assert second is None
    warnings = [record for record in caplog.records if "no-such-model-7b" in record.getMessage()]
    assert len(warnings) == 1


async def test_unknown_model_is_counted_as_unpriced_with_its_tokens() -> None:
    fake = FakeProvider(responses=[answer("no-such-model-7b")] * 2)
    client = Aether(fake)
    for _ in range(2):
        response = await client.complete("hi", model="no-such-model-7b")
        assert response.cost_usd is None
    assert client.usage.unpriced_requests == 2
    assert client.usage.total_requests == 2
    assert client.usage.total_input_tokens == 2000
    assert client.usage.total_cost_usd == 0.0


def test_price_library_failure_leaves_the_model_unpriced_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_lookup(model: str, provider: str | None) -> None:
        raise AttributeError("genai-prices changed its internals")

    monkeypatch.setattr(price_library, "lookup", broken_lookup)
    with caplog.at_level(logging.ERROR, logger="aether.cost"):
        cost = Pricer().price("gpt-4o-mini", TokenCounts(input=1, output=1), provider="openai")
    assert cost is None
    assert any("could not price" in record.getMessage() for record in caplog.records)


def test_your_price_wins_over_the_library() -> None:
    pricer = Pricer({"GPT-4o-mini": ModelPricing(input_per_mtok=1.0, output_per_mtok=2.0)})
    cost = pricer.price("gpt-4o-mini", TokenCounts(input=1000, output=500), provider="openai")
    assert cost == pytest.approx(0.002)


def test_model_pricing_defaults_cache_rates_to_input_and_reasoning_to_output() -> None:
    card = ModelPricing(input_per_mtok=3.0, output_per_mtok=15.0).rate_card()
    assert card.cache_read == card.input == Decimal("0.000003")
    assert card.cache_write == card.input
    assert card.reasoning == card.output == Decimal("0.000015")
    assert card.input_audio == card.input_image == card.input
    assert card.output_audio == card.output


def test_model_pricing_prices_audio_and_image_tokens_apart_when_given() -> None:
    pricing = ModelPricing(
        input_per_mtok=1.0, output_per_mtok=2.0, input_audio_per_mtok=10.0,
        input_image_per_mtok=5.0, output_audio_per_mtok=20.0,
    )  # fmt: skip
    tokens = TokenCounts(
        input=1_000_000, input_audio=200_000, input_image=100_000,
        output=1_000_000, output_audio=500_000,
    )  # fmt: skip
    cost = Pricer({"voice": pricing}).price("voice", tokens)
    # 0.7 M text in at $1, 0.2 M audio at $10, 0.1 M image at $5; 0.5 M text out at $2,
    # 0.5 M audio out at $20
    assert cost == pytest.approx(0.7 + 2.0 + 0.5 + 1.0 + 10.0)


def test_reasoning_has_its_own_price_when_given() -> None:
    pricing = ModelPricing(input_per_mtok=0, output_per_mtok=10.0, reasoning_per_mtok=1.0)
    cost = Pricer({"thinker": pricing}).price(
        "thinker", TokenCounts(input=0, output=1_000_000, reasoning=400_000)
    )
    assert cost == pytest.approx(6.0 + 0.4)


def test_fake_model_is_free() -> None:
    assert Pricer().price("fake-model", TokenCounts(input=100, output=100)) == 0.0


def test_importing_aether_imports_neither_genai_prices_nor_tenacity() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, aether; print('genai_prices' in sys.modules, 'tenacity' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False False"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_first_priced_call_loads_genai_prices_off_the_event_loop(backend: str) -> None:
    script = f"""
import sys, threading, anyio
from aether import Aether, LLMResponse
from aether import _price_library
from aether.extensions.llm.fake import FakeProvider

loaded_in = []
original = _price_library.load
def recording_load():
    loaded_in.append(threading.current_thread() is threading.main_thread())
    original()
_price_library.load = recording_load

async def main():
    answer = LLMResponse(text="ok", model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    client = Aether(FakeProvider(responses=[answer]))
    assert "genai_prices" not in sys.modules
    response = await client.complete("hi", model="gpt-4o-mini")
    print(response.cost_usd, loaded_in[0])

anyio.run(main, backend={backend!r})
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["0.00045", "False"]


# -- cost tracking in the client ------------------------------------------------------------


async def test_response_carries_its_cost_and_usage_adds_it() -> None:
    client = Aether(FakeProvider(responses=[answer(cached_input_tokens=200)]))
    response = await client.complete("hi", model="gpt-4o-mini")
    assert response.cost_usd == 0.000435
    assert client.usage.total_cost_usd == 0.000435
    assert client.usage.total_cached_input_tokens == 200
    assert client.usage.by_model["gpt-4o-mini"].requests == 1


async def test_usage_counts_cache_writes_and_reasoning_tokens() -> None:
    response = answer(cache_write_tokens=300, reasoning_tokens=120)
    client = Aether(FakeProvider(responses=[response]))
    await client.complete("hi", model="gpt-4o-mini")
    assert client.usage.total_cache_write_tokens == 300
    assert client.usage.total_reasoning_tokens == 120
    assert client.usage.by_model["gpt-4o-mini"].reasoning_tokens == 120


async def test_usage_sums_every_token_kind_per_model_and_in_total() -> None:
    first = LLMResponse(
        text="a", model="gpt-4o-mini", tokens=TokenCounts(input=100, input_image=60, output=7)
    )
    second = LLMResponse(
        text="b", model="o3-mini", tokens=TokenCounts(input=10, output=50, reasoning=40)
    )
    client = Aether(FakeProvider(responses=[first, first, second]))
    for model in ("gpt-4o-mini", "gpt-4o-mini", "o3-mini"):
        await client.complete("hi", model=model)
    usage = client.usage
    per_model = usage.by_model["gpt-4o-mini"].tokens
    assert per_model == TokenCounts(input=200, input_image=120, output=14)
    assert usage.by_model["o3-mini"].tokens == second.tokens
    assert usage.tokens == TokenCounts(input=210, input_image=120, output=64, reasoning=40)
    assert (usage.total_requests, usage.total_input_tokens, usage.total_output_tokens) == (
        3, 210, 64,
    )  # fmt: skip


async def test_price_a_provider_reported_is_kept() -> None:
    reported = answer().model_copy(update={"cost_usd": 0.5})
    client = Aether(FakeProvider(responses=[reported]))
    response = await client.complete("hi", model="gpt-4o-mini")
    assert response.cost_usd == 0.5
    assert client.usage.total_cost_usd == 0.5


async def test_retried_attempt_is_not_counted_as_a_request() -> None:
    fake = FakeProvider(responses=[ServerError("boom"), answer()])
    client = Aether(fake, retry=RetryPolicy(base_delay=0))
    await client.complete("hi", model="gpt-4o-mini")
    assert len(fake.requests) == 2
    assert client.usage.total_requests == 1
    assert client.usage.total_cost_usd == 0.00045


async def test_stream_is_counted_once_from_its_final_chunk() -> None:
    client = Aether(FakeProvider(responses=[answer()]))
    chunks = [chunk async for chunk in client.stream("hi", model="gpt-4o-mini")]
    assert [chunk.cost_usd for chunk in chunks] == [None, 0.00045]
    assert client.usage.total_requests == 1
    assert client.usage.total_output_tokens == 500


async def test_stream_abandoned_before_its_final_chunk_records_nothing() -> None:
    fake = FakeProvider(responses=[answer().model_copy(update={"text": "one two three"})])
    client = Aether(fake)
    async with aclosing(client.stream("hi", model="gpt-4o-mini")) as stream:
        async for _chunk in stream:
            break
    assert client.usage.total_requests == 0
    assert fake.open_streams == 0


async def test_stream_failing_midway_records_nothing() -> None:
    client = Aether(FakeProvider(responses=[StreamFault(ServerError("cut"), after_chunks=2)]))
    with pytest.raises(ServerError):
        async for _chunk in client.stream("hi", model="gpt-4o-mini"):
            pass
    assert client.usage.total_requests == 0


async def test_usage_loses_no_update_under_200_concurrent_calls() -> None:
    async def responder(request: LLMRequest) -> LLMResponse:
        await anyio.lowlevel.checkpoint()
        return answer()

    client = Aether(FakeProvider(responder=responder))

    async def one() -> None:
        await client.complete("hi", model="gpt-4o-mini")

    async with anyio.create_task_group() as group:
        for _ in range(200):
            group.start_soon(one)
    assert client.usage.total_requests == 200
    assert client.usage.total_input_tokens == 200_000
    assert client.usage.total_output_tokens == 100_000
    assert client.usage.total_cost_usd == pytest.approx(200 * 0.00045)


# -- budgets ----------------------------------------------------------------------------------


async def test_budget_spent_stops_the_next_call_before_it_is_sent() -> None:
    fake = FakeProvider(responses=[answer()] * 3)
    client = Aether(fake, budget_usd=0.0008)
    await client.complete("hi", model="gpt-4o-mini")
    await client.complete("hi", model="gpt-4o-mini")
    with pytest.raises(BudgetExceededError) as caught:
        await client.complete("hi", model="gpt-4o-mini")
    assert len(fake.requests) == 2
    assert caught.value.budget_usd == 0.0008
    assert caught.value.spent_usd == pytest.approx(0.0009)


async def test_budget_spent_stops_a_stream_before_it_is_sent() -> None:
    fake = FakeProvider(responses=[answer()] * 2)
    client = Aether(fake, budget_usd=0.0001)
    await client.complete("hi", model="gpt-4o-mini")
    with pytest.raises(BudgetExceededError):
        async for _chunk in client.stream("hi", model="gpt-4o-mini"):
            pass
    assert len(fake.requests) == 1


def test_negative_budget_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Aether(FakeProvider(), budget_usd=-1.0)


def test_budget_without_cost_tracking_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="budget_usd"):
        Aether(FakeProvider(), budget_usd=1.0, with_cost_tracking=False)


async def test_stream_stopped_before_its_final_chunk_is_counted_as_incomplete() -> None:
    client = Aether(FakeProvider("one two three"))
    stream = client.stream("hi")
    async for _chunk in stream:
        break
    await stream.aclose()
    async for _chunk in client.stream("hi"):
        pass
    assert client.usage.incomplete_streams == 1
    assert client.usage.total_requests == 1
