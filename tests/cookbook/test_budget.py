"""The per-user budget recipe: refuses before sending once spent, safe under concurrency."""

from __future__ import annotations

import math
from contextlib import aclosing

import anyio
import pytest

from aether import Aether, ImagePart, LLMRequest, LLMResponse, Message
from aether.errors import BudgetExceededError, MiddlewareError, ServerError
from aether.extensions.llm.fake import FakeProvider, StreamFault
from middleware.budget import (
    EXPECTED_OUTPUT_TOKENS,
    BudgetMiddleware,
    UserBudgetExceededError,
    estimate_tokens,
)


def answer(*, tokens: int = 30, cost_usd: float | None = None) -> LLMResponse:
    return LLMResponse(
        text="three little words",
        model="fake-model",
        input_tokens=tokens - 10,
        output_tokens=10,
        cost_usd=cost_usd,
    )


def fake_answering(
    *, tokens: int = 30, cost_usd: float | None = None, **options: float
) -> FakeProvider:
    return FakeProvider(
        responder=lambda request: answer(tokens=tokens, cost_usd=cost_usd), **options
    )


async def ask(client: Aether, user: str = "alice") -> str:
    return await client.ask("hi", context={"user_id": user})


async def stream(client: Aether, user: str = "alice") -> str:
    return "".join([delta async for delta in client.stream_text("hi", context={"user_id": user})])


async def test_calls_stop_before_sending_once_the_token_budget_is_spent() -> None:
    fake = fake_answering(tokens=30)
    client = Aether(fake, stack=[BudgetMiddleware(max_tokens=50)])
    await ask(client)
    await ask(client)
    with pytest.raises(UserBudgetExceededError):
        await ask(client)
    assert len(fake.requests) == 2


async def test_streams_stop_before_sending_once_the_token_budget_is_spent() -> None:
    fake = fake_answering(tokens=30)
    budget = BudgetMiddleware(max_tokens=50)
    client = Aether(fake, stack=[budget])
    assert await stream(client) == "three little words"
    await stream(client)
    with pytest.raises(UserBudgetExceededError):
        await stream(client)
    assert len(fake.requests) == 2
    assert budget.ledger("alice").tokens == 60


async def test_cost_budget_counts_the_price_each_call_reports() -> None:
    fake = fake_answering(cost_usd=0.004)
    budget = BudgetMiddleware(max_cost_usd=0.01)
    client = Aether(fake, stack=[budget])
    for _ in range(3):
        await ask(client)
    with pytest.raises(BudgetExceededError) as caught:
        await ask(client)
    assert len(fake.requests) == 3
    assert caught.value.spent_usd == pytest.approx(0.012)
    assert caught.value.budget_usd == 0.01


async def test_cost_budget_counts_the_price_on_a_stream_final_chunk() -> None:
    budget = BudgetMiddleware(max_cost_usd=0.01)
    client = Aether(fake_answering(cost_usd=0.006), stack=[budget])
    await stream(client)
    await stream(client)
    with pytest.raises(UserBudgetExceededError):
        await stream(client)
    assert budget.ledger("alice").cost_usd == pytest.approx(0.012)


async def test_each_key_has_its_own_budget() -> None:
    fake = fake_answering(tokens=30)
    client = Aether(fake, stack=[BudgetMiddleware(max_tokens=30)])
    await ask(client, "alice")
    with pytest.raises(UserBudgetExceededError) as caught:
        await ask(client, "alice")
    assert caught.value.key == "alice"
    assert await ask(client, "bob") == "three little words"


async def test_refusal_says_who_what_and_what_to_do() -> None:
    client = Aether(fake_answering(tokens=30), stack=[BudgetMiddleware(max_tokens=30)])
    await ask(client)
    with pytest.raises(UserBudgetExceededError) as caught:
        await ask(client)
    message = str(caught.value)
    assert "user_id 'alice'" in message
    assert "30 of 30 tokens" in message
    assert "nothing was sent" in message
    assert (caught.value.spent_tokens, caught.value.budget_tokens) == (30, 30)
    assert caught.value.budget_usd == math.inf


async def test_request_without_the_key_is_refused_with_the_fix() -> None:
    client = Aether(FakeProvider("ok"), stack=[BudgetMiddleware(max_tokens=10)])
    with pytest.raises(MiddlewareError, match=r"context=\{'user_id': \.\.\.\}"):
        await client.ask("hi")


async def test_default_key_covers_requests_without_one() -> None:
    budget = BudgetMiddleware(max_tokens=100, default_key="anonymous")
    await Aether(fake_answering(tokens=30), stack=[budget]).ask("hi")
    assert budget.ledger("anonymous").tokens == 30


async def test_concurrent_calls_cannot_all_slip_under_the_same_remaining_budget() -> None:
    fake = fake_answering(tokens=30, delay=0.01)
    budget = BudgetMiddleware(max_tokens=100, estimate=lambda request: 30)
    client = Aether(fake, stack=[budget])
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await ask(client)
        except UserBudgetExceededError:
            outcomes.append("refused")
        else:
            outcomes.append("answered")

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
    # Three fit beside each other (90 reserved); the fourth waits, goes alone (90 < 100
    # spent, nothing in flight), and its 30 tokens close the budget for the other six.
    assert sorted(outcomes) == ["answered"] * 4 + ["refused"] * 6
    assert len(fake.requests) == 4
    ledger = budget.ledger("alice")
    assert (ledger.tokens, ledger.reserved_tokens, ledger.in_flight) == (120, 0, 0)


async def test_concurrent_calls_without_max_tokens_overshoot_by_one_call_at_most() -> None:
    # Each call spends 5 prompt and 100 output tokens and sets no max_tokens.
    fake = FakeProvider(" ".join(["word"] * 100), delay=0.01)
    budget = BudgetMiddleware(max_tokens=200)
    client = Aether(fake, stack=[budget])
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await client.ask("please summarise the quarterly report", context={"user_id": "k"})
        except UserBudgetExceededError:
            outcomes.append("refused")
        else:
            outcomes.append("answered")

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(one)
    # The reservations (prompt + 512 expected output) let one call run at a time: the
    # second starts alone at 105 of 200 spent, and its 105 close the budget.
    ledger = budget.ledger("k")
    assert sorted(outcomes) == ["answered"] * 2 + ["refused"] * 18
    assert (ledger.tokens, ledger.reserved_tokens, ledger.in_flight) == (210, 0, 0)
    assert ledger.tokens <= 200 + 105


async def test_unpriced_answers_count_tokens_and_are_flagged() -> None:
    budget = BudgetMiddleware(max_cost_usd=1.0)
    await ask(Aether(fake_answering(cost_usd=None), stack=[budget]))
    ledger = budget.ledger("alice")
    assert (ledger.calls, ledger.unpriced_calls, ledger.cost_usd, ledger.tokens) == (1, 1, 0.0, 30)


async def test_failed_call_is_not_charged_and_releases_its_reservation() -> None:
    budget = BudgetMiddleware(max_tokens=100)
    client = Aether(FakeProvider(responses=[ServerError("down")]), stack=[budget])
    with pytest.raises(ServerError):
        await ask(client)
    ledger = budget.ledger("alice")
    assert (ledger.tokens, ledger.calls, ledger.reserved_tokens, ledger.in_flight) == (0, 0, 0, 0)


async def test_stream_failing_before_content_is_not_charged() -> None:
    budget = BudgetMiddleware(max_tokens=100)
    client = Aether(FakeProvider(responses=[StreamFault(ServerError("down"))]), stack=[budget])
    with pytest.raises(ServerError):
        await stream(client)
    assert (budget.ledger("alice").tokens, budget.ledger("alice").in_flight) == (0, 0)


async def test_stream_stopped_early_is_charged_an_estimate_of_what_was_sent() -> None:
    fake = FakeProvider("twelve chars and more text after it")
    budget = BudgetMiddleware(max_tokens=1000)
    client = Aether(fake, stack=[budget])
    async with aclosing(client.stream("hello there", context={"user_id": "alice"})) as chunks:
        async for chunk in chunks:
            first = chunk.text
            break
    ledger = budget.ledger("alice")
    assert first == "twelve "
    assert ledger.tokens == math.ceil(len("hello there") / 4) + math.ceil(len(first) / 4)
    assert (ledger.calls, ledger.in_flight, ledger.reserved_tokens) == (1, 0, 0)
    assert fake.open_streams == 0


async def test_cancelled_call_releases_its_reservation() -> None:
    budget = BudgetMiddleware(max_tokens=100)
    client = Aether(fake_answering(delay=5), stack=[budget])
    with anyio.move_on_after(0.05) as scope:
        await ask(client)
    assert scope.cancelled_caught
    ledger = budget.ledger("alice")
    assert (ledger.tokens, ledger.reserved_tokens, ledger.in_flight) == (0, 0, 0)


async def test_reset_gives_a_key_a_fresh_budget() -> None:
    budget = BudgetMiddleware(max_tokens=30)
    client = Aether(fake_answering(tokens=30), stack=[budget])
    await ask(client)
    budget.reset("alice")
    assert await ask(client) == "three little words"


def test_budget_without_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        BudgetMiddleware()


def test_estimate_counts_prompt_characters_and_max_tokens() -> None:
    request = LLMRequest(messages=(Message(role="user", content="x" * 9),), max_tokens=100)
    assert estimate_tokens(request) == 3 + 100


def test_estimate_without_max_tokens_reserves_the_expected_output() -> None:
    request = LLMRequest(messages=(Message(role="user", content="x" * 9),))
    assert EXPECTED_OUTPUT_TOKENS == 512
    assert estimate_tokens(request) == 3 + 512
    assert estimate_tokens(request, output_tokens=50) == 3 + 50


def test_estimate_counts_an_image_as_aethers_estimate_for_it() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(8)
    message = Message(role="user", content=["x" * 9, ImagePart(data=png)])
    request = LLMRequest(messages=(message,), max_tokens=100)
    assert estimate_tokens(request) == 3 + 1_600 + 100
