"""The default stack: cost → circuit breaker → retry → events → provider, and its switches."""

from __future__ import annotations

from typing import Any

import pytest

from aether import (
    Aether,
    BudgetExceededError,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConfigurationError,
    LLMRequest,
    LLMResponse,
    ModelPricing,
    RetryPolicy,
    ServerError,
    TokenCounts,
)
from aether.extensions.llm.fake import FakeProvider
from aether.middleware import CircuitStateChange
from aether.middleware._context import ATTEMPT


def test_default_stack_order_is_tools_cost_breaker_retry_events_provider() -> None:
    client = Aether(FakeProvider())
    assert client.pipeline.names == [
        "StructuredOutput",
        "ToolLoop",
        "CostTracking",
        "CircuitBreaker",
        "Retry",
        "Events",
        "fake",
    ]


def test_switches_remove_their_layers() -> None:
    client = Aether(
        FakeProvider(), with_retry=False, with_circuit_breaker=False, with_cost_tracking=False
    )
    assert client.pipeline.names == ["StructuredOutput", "ToolLoop", "Events", "fake"]
    assert client.circuit_breaker is None


def test_user_middleware_wraps_the_default_stack() -> None:
    async def outer(request: LLMRequest, call_next: Any) -> LLMResponse:
        return await call_next(request)  # type: ignore[no-any-return]

    client = Aether(FakeProvider(), middleware=[outer])
    assert client.pipeline.names[:4] == ["outer", "StructuredOutput", "ToolLoop", "CostTracking"]


async def test_nesting_order_shows_in_the_order_of_events() -> None:
    timeline: list[str] = []
    outcomes: list[object] = [ServerError("down"), ServerError("down")]

    def provider(request: LLMRequest) -> object:
        timeline.append(f"provider attempt {request.context[ATTEMPT]}")
        return outcomes.pop(0)

    def on_change(change: CircuitStateChange) -> None:
        timeline.append(f"breaker {change.new.value}")

    client = Aether(
        FakeProvider(responder=provider),  # type: ignore[arg-type]
        retry=RetryPolicy(attempts=2, base_delay=0),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=1, on_state_change=on_change),
        prices={"fake-model": ModelPricing(input_per_mtok=1, output_per_mtok=1)},
    )
    client.on("*", lambda event: timeline.append(f"{event.name} attempt {event.attempt}"))

    with pytest.raises(ServerError):
        await client.ask("hi")
    # Events sit inside retry (one start/error per attempt); the breaker sits outside
    # retry (it opens once, after the last attempt); cost sits outside them all.
    assert timeline == [
        "request.start attempt 1",
        "provider attempt 1",
        "request.error attempt 1",
        "request.start attempt 2",
        "provider attempt 2",
        "request.error attempt 2",
        "breaker open",
    ]
    assert client.usage.total_requests == 0

    timeline.clear()
    with pytest.raises(CircuitOpenError):
        await client.ask("hi")
    assert timeline == []  # refused outside retry, events and the provider


async def test_budget_is_checked_outside_the_circuit_breaker() -> None:
    client = Aether(
        FakeProvider(responses=[ServerError("down")]),
        retry=RetryPolicy(attempts=1),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=1),
        budget_usd=0.5,
    )
    with pytest.raises(ServerError):
        await client.ask("hi")
    client.usage.record("fake-model", TokenCounts(), cost_usd=1.0)
    with pytest.raises(BudgetExceededError):  # not CircuitOpenError: cost is outermost
        await client.ask("hi")


@pytest.mark.parametrize(
    "arguments",
    [
        {"retry": RetryPolicy(), "with_retry": False},
        {"circuit_breaker": CircuitBreakerPolicy(), "with_circuit_breaker": False},
        {"prices": {"m": ModelPricing(input_per_mtok=1, output_per_mtok=1)}, "stack": []},
    ],
    ids=["retry", "circuit-breaker", "prices-with-stack"],
)
def test_policy_for_a_missing_layer_is_a_configuration_error(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="no effect"):
        Aether(FakeProvider(), **arguments)


async def test_usage_of_a_cost_layer_in_your_own_stack_is_client_usage() -> None:
    from aether import Usage
    from aether.middleware import CostTrackingMiddleware, EventsMiddleware

    usage = Usage()
    client = Aether(FakeProvider("one two"), stack=[CostTrackingMiddleware(usage)])
    await client.ask("hi")
    assert client.usage is usage
    assert client.usage.total_requests == 1
    assert client.usage.total_output_tokens == 2
    plain = Aether(FakeProvider("x"), stack=[EventsMiddleware(client.events)])
    await plain.ask("hi")
    assert plain.usage.total_requests == 0
