"""HedgingMiddleware: race a backup once the first provider is slow; cancel the loser.

The providers are the real adapters (OpenAI's and Anthropic's SDKs) on scripted servers
speaking their wire formats: a slow provider is one whose server holds the request (or
its stream) open, so "cancelled" means its HTTP request or stream was really closed.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aether import (
    Aether,
    BadRequestError,
    LLMResponse,
    ModelPricing,
    ServerError,
    default_stack,
)
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.hedging import HedgingMiddleware, LatencyPercentile
from aether.pricing import Pricer
from aether.testing.wire import (
    Hang,
    MockServer,
    ScriptedError,
    ScriptedReply,
    ScriptedUsage,
    StalledStream,
)
from aether.testing.wires.anthropic import ANTHROPIC_WIRE
from aether.testing.wires.openai import OPENAI_WIRE
from tests.reliability._support import running_tasks

pytestmark = pytest.mark.anyio

# $1 per million tokens in and out for the slow model, $2 for the fast one.
PRICES = {
    "slow-model": ModelPricing(input_per_mtok=1, output_per_mtok=1),
    "fast-model": ModelPricing(input_per_mtok=2, output_per_mtok=2),
}
PROMPT = "x" * 400  # 100 tokens by the loser's estimate
FAST = ScriptedReply(
    text=("fast ", "answer"),
    model="fast-model",
    usage=ScriptedUsage(input_tokens=100, output_tokens=10),
)


def hedged(slow: Any, fast: Any, *, delay: float | LatencyPercentile = 0.01) -> Aether:
    middleware = HedgingMiddleware(fast, delay=delay, model="fast-model", pricer=Pricer(PRICES))
    return Aether(slow, stack=[middleware])


async def ask(client: Aether, mode: str) -> tuple[str, float | None, int]:
    if mode == "call":
        response = await client.complete(PROMPT, model="slow-model")
        return response.text, response.cost_usd, response.input_tokens
    chunks = [chunk async for chunk in client.stream(PROMPT, model="slow-model")]
    final = chunks[-1]
    return "".join(chunk.text for chunk in chunks), final.cost_usd, final.input_tokens or 0


@pytest.mark.parametrize("mode", ["call", "stream"])
async def test_the_slow_provider_is_cancelled_and_both_are_counted(mode: str) -> None:
    tasks_before = running_tasks()
    slow_script = Hang() if mode == "call" else StalledStream(text=())
    slow_server = MockServer(OPENAI_WIRE, [slow_script])
    fast_server = MockServer(ANTHROPIC_WIRE, [FAST])
    slow = OPENAI_WIRE.build_provider(slow_server, default_model="slow-model")
    fast = ANTHROPIC_WIRE.build_provider(fast_server, default_model="fast-model")
    async with Aether(fast) as closer, hedged(slow, fast) as client:
        text, cost, input_tokens = await ask(client, mode)
        del closer
    assert text == "fast answer"
    # The winner: 110 tokens at $2/M; the loser: its 100-token prompt at $1/M.
    assert cost == pytest.approx(110 * 2e-6 + 100 * 1e-6)
    assert input_tokens == 200
    assert (slow_server.held_requests, slow_server.open_streams) == (0, 0)
    assert (fast_server.open_streams, len(fast_server.requests)) == (0, 1)
    assert running_tasks() == tasks_before


@pytest.mark.parametrize("mode", ["call", "stream"])
async def test_a_fast_first_provider_is_never_hedged(mode: str) -> None:
    backup = FakeProvider("backup")
    client = hedged(FakeProvider("first", default_model="slow-model"), backup, delay=5.0)
    text, _, _ = await ask(client, mode)
    assert text == "first"
    assert backup.requests == []


@pytest.mark.parametrize("mode", ["call", "stream"])
async def test_an_outage_sends_to_the_backup_at_once(mode: str) -> None:
    backup = FakeProvider("backup", default_model="fast-model")
    client = hedged(FakeProvider(responses=[ServerError("down")]), backup, delay=3600)
    with anyio.fail_after(5):  # not after the hour's delay
        text, cost, _ = await ask(client, mode)
    assert text == "backup"
    assert cost == pytest.approx(1 * 2e-6 + 1 * 2e-6 if mode == "call" else cost)


async def test_a_caller_error_is_raised_without_the_backup() -> None:
    backup = FakeProvider("backup")
    client = hedged(FakeProvider(responses=[BadRequestError("too long")]), backup, delay=3600)
    with pytest.raises(BadRequestError):
        await client.ask(PROMPT)
    assert backup.requests == []


async def test_when_both_fail_the_first_error_names_the_second() -> None:
    client = hedged(
        FakeProvider(responses=[ServerError("first down")]),
        FakeProvider(responses=[ServerError("backup down")]),
    )
    with pytest.raises(ServerError, match="first down") as caught:
        await client.ask(PROMPT)
    assert caught.value.__notes__ == ["the hedged backup failed too: ServerError: backup down"]


async def test_a_loser_that_finished_too_is_counted_as_billed() -> None:
    release = anyio.Event()

    async def first(_: Any) -> LLMResponse:
        await release.wait()
        return LLMResponse(text="late", model="slow-model", input_tokens=7, output_tokens=3)

    async def backup(_: Any) -> LLMResponse:
        release.set()  # the first is woken in the same moment: both answers arrive
        return LLMResponse(text="quick", model="fast-model", input_tokens=5, output_tokens=5)

    client = hedged(FakeProvider(responder=first), FakeProvider(responder=backup))
    request = client.request(PROMPT, model="slow-model")
    response = await client.pipeline.complete(request)
    assert request.context["hedge"]["winner"] == "backup"
    assert (response.text, response.input_tokens, response.output_tokens) == ("quick", 12, 8)
    assert response.cost_usd == pytest.approx(10 * 2e-6 + 10 * 1e-6)


async def test_the_delay_follows_the_observed_percentile() -> None:
    delay = LatencyPercentile(50, initial=3600, min_samples=4)
    clock_now = [0.0]
    middleware = HedgingMiddleware(
        FakeProvider("backup"), delay=delay, clock=lambda: clock_now[0], pricer=Pricer(PRICES)
    )

    async def timed(request: Any) -> str:
        clock_now[0] += float(request.messages[-1].content)
        return "first"

    client = Aether(FakeProvider(responder=timed), stack=[middleware])
    assert delay.delay == 3600
    for seconds in ("0.1", "0.2", "0.3", "0.4"):
        await client.ask(seconds)
    assert delay.delay == pytest.approx(0.25)


async def test_default_stack_hedges_with_a_backup_of_its_own_stack() -> None:
    usage_backup = FakeProvider("backup answer", default_model="fast-model")
    stack = default_stack(provider="slow", prices=PRICES, hedge=usage_backup, hedge_delay=0.01)
    client = Aether(FakeProvider("late", delay=30), stack=stack)
    assert await client.ask(PROMPT, model="slow-model") == "backup answer"
    assert client.usage.total_requests == 1
    assert client.usage.total_cost_usd > 0  # the backup's answer and the loser's prompt


async def test_a_failing_backup_server_leaves_the_first_answer(anyio_backend: str) -> None:
    slow_server = MockServer(OPENAI_WIRE, [ScriptedReply(text=("first",), model="slow-model")])
    fast_server = MockServer(ANTHROPIC_WIRE, [ScriptedError(529, "overloaded")])
    slow = OPENAI_WIRE.build_provider(slow_server, default_model="slow-model")
    fast = ANTHROPIC_WIRE.build_provider(fast_server, default_model="fast-model")
    async with Aether(fast) as closer, hedged(slow, fast, delay=0) as client:
        assert await client.ask(PROMPT, model="slow-model") == "first"
        del closer
    assert (slow_server.open_streams, fast_server.open_streams) == (0, 0)
