"""`default_stack`: the public builder of the default stack, for ``stack=[...]``."""

from __future__ import annotations

import pytest

from aether import Aether, ConfigurationError, EventBus, default_stack
from aether.events import REQUEST_COMPLETE, TOOL_START, Event
from aether.extensions.llm.fake import FakeProvider
from aether.middleware import (
    CacheMiddleware,
    CircuitBreakerMiddleware,
    CostTrackingMiddleware,
    RetryMiddleware,
)
from aether.middleware.structured_output import StructuredOutputMiddleware
from aether.tools import register_tool


def test_it_builds_the_same_order_as_the_client() -> None:
    built = Aether(FakeProvider(), stack=default_stack(provider="fake", cache=True))
    plain = Aether(FakeProvider(), cache=True)
    assert repr(built.pipeline) == repr(plain.pipeline)
    assert built.pipeline.names[:3] == ["StructuredOutput", "ToolLoop", "Cache"]


def test_switches_leave_layers_out() -> None:
    stack = default_stack(retry=False, circuit_breaker=False, cost_tracking=False)
    kinds = {type(layer) for layer in stack}
    assert not kinds & {RetryMiddleware, CircuitBreakerMiddleware, CostTrackingMiddleware}
    assert len(stack) == 3  # structured output, the tool loop and the events layer stay


def test_structured_output_can_be_left_out_or_given() -> None:
    assert not any(
        isinstance(layer, StructuredOutputMiddleware)
        for layer in default_stack(structured_output=False)
    )
    mine = StructuredOutputMiddleware(retries=5)
    assert default_stack(structured_output=mine)[0] is mine


def test_budget_without_cost_tracking_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="need cost tracking"):
        default_stack(cost_tracking=False, budget_usd=1.0)


async def test_the_client_reports_what_the_stack_counts_and_emits() -> None:
    client = Aether(FakeProvider(canned_response="hi"), stack=default_stack(cache=True))
    seen: list[Event] = []
    client.on(REQUEST_COMPLETE, seen.append)
    await client.ask("hello")
    await client.ask("hello")  # a cache hit: no provider call, no event, not billed
    assert client.usage.total_requests == 1
    assert len(seen) == 1
    assert isinstance(client.cache, CacheMiddleware)
    assert client.cache.stats.hits == 1
    assert isinstance(client.circuit_breaker, CircuitBreakerMiddleware)


async def test_the_client_adopts_the_bus_for_tool_events() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    bus = EventBus()
    client = Aether(FakeProvider(), stack=default_stack(events=bus))
    assert client.events is bus
    started: list[Event] = []
    client.on(TOOL_START, started.append)
    assert "42" in await client.ask("What is 17 + 25?", tools=["add"])
    assert [event.call.name for event in started] == ["add"]  # type: ignore[attr-defined]
