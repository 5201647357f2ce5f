"""Where the cache sits: inside the tool loop, outside cost tracking, opt-in on the facade."""

from __future__ import annotations

from typing import Any

import pytest
from _cache_helpers import answer, provider

from aether import (
    Aether,
    BudgetExceededError,
    CircuitBreakerPolicy,
    CircuitOpenError,
    ConfigurationError,
    LLMRequest,
    LLMResponse,
    RetryPolicy,
    ServerError,
    ToolCall,
    register_tool,
)
from aether.events import Event
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.cache import CacheMiddleware, InMemoryCacheBackend

ADD = ToolCall(id="c1", name="add", arguments={"a": 17, "b": 25})


@pytest.fixture
def tool_runs() -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []

    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        runs.append((a, b))
        return a + b

    return runs


def adding_model(request: LLMRequest) -> LLMResponse:
    """Asks for add(17, 25) until it sees a tool result, then answers with it."""
    results = [message.content for message in request.messages if message.role == "tool"]
    if not results:
        return answer("Let me add.", tool_calls=(ADD,), finish_reason="tool_calls")
    return answer(f"The answer is {results[-1]}.")


def test_the_cache_sits_inside_the_tool_loop_and_outside_cost_tracking() -> None:
    client = Aether(FakeProvider(), cache=True)
    assert client.pipeline.names == [
        "StructuredOutput",
        "ToolLoop",
        "Cache",
        "CostTracking",
        "CircuitBreaker",
        "Retry",
        "Events",
        "fake",
    ]


def test_the_cache_is_off_by_default() -> None:
    client = Aether(FakeProvider())
    assert "Cache" not in client.pipeline.names
    assert client.cache is None


async def test_tools_still_run_when_every_model_call_is_a_hit(
    tool_runs: list[tuple[int, int]],
) -> None:
    fake = FakeProvider(responder=adding_model)
    client = Aether(fake, cache=True)
    first = await client.ask("What is 17 + 25?", tools=["add"])
    second = await client.ask("What is 17 + 25?", tools=["add"])
    assert first == second == "The answer is 42."
    assert len(fake.requests) == 2  # two model calls, both cached on the second run
    assert tool_runs == [(17, 25), (17, 25)]
    assert client.cache is not None
    assert (client.cache.stats.misses, client.cache.stats.hits) == (2, 2)


async def test_each_model_call_of_the_loop_is_cached_on_its_own() -> None:
    counter = iter(range(100))

    @register_tool(description="A number that changes on every call")
    def ticket() -> int:
        return next(counter)

    def model(request: LLMRequest) -> LLMResponse:
        if any(message.role == "tool" for message in request.messages):
            return answer("done")
        call = ToolCall(id="t1", name="ticket")
        return answer("", tool_calls=(call,), finish_reason="tool_calls")

    fake = FakeProvider(responder=model)
    client = Aether(fake, cache=True)
    await client.ask("Take a ticket", tools=["ticket"])
    await client.ask("Take a ticket", tools=["ticket"])
    # The first model call hits; the tool's new result makes the second one miss.
    assert len(fake.requests) == 3
    assert client.cache is not None
    assert (client.cache.stats.hits, client.cache.stats.misses) == (1, 3)


async def test_a_streamed_tool_loop_replays_each_model_call_and_runs_the_tools(
    tool_runs: list[tuple[int, int]],
) -> None:
    fake = FakeProvider(responder=adding_model)
    client = Aether(fake, cache=True)

    async def run() -> list[tuple[str, str]]:
        return [
            (chunk.kind, chunk.text)
            async for chunk in client.stream("What is 17 + 25?", tools=["add"])
        ]

    first, second = await run(), await run()
    assert second == first
    assert ("tool_result", "") in second
    assert "".join(text for _, text in second) == "Let me add.The answer is 42."
    assert len(fake.requests) == 2
    assert len(tool_runs) == 2


async def test_a_hit_is_not_a_billed_request_in_usage() -> None:
    client = Aether(provider(), cache=True)
    await client.ask("hi")
    await client.ask("hi")
    async for _chunk in client.stream("hi"):
        pass
    async for _chunk in client.stream("hi"):
        pass
    assert client.usage.total_requests == 2
    assert client.usage.total_cost_usd == pytest.approx(0.0009)
    assert client.cache is not None
    assert client.cache.stats.saved_usd == pytest.approx(0.0009)
    assert client.cache.stats.hits == 2


async def test_a_loop_served_from_the_cache_reports_no_cost(
    tool_runs: list[tuple[int, int]],
) -> None:
    client = Aether(FakeProvider(responder=adding_model), cache=True)
    first = await client.complete("What is 17 + 25?", tools=["add"])
    second = await client.complete("What is 17 + 25?", tools=["add"])
    assert first.cost_usd == pytest.approx(0.0009)
    assert second.cost_usd == 0.0
    assert (second.input_tokens, second.output_tokens) == (2000, 1000)


async def test_a_hit_is_served_when_the_budget_is_spent() -> None:
    client = Aether(provider(), cache=True, budget_usd=0.0001)
    await client.ask("hi")  # spends $0.00045, over the budget
    assert await client.ask("hi") == "Paris is the capital of France."
    with pytest.raises(BudgetExceededError):
        await client.ask("something new")


async def test_a_hit_is_served_while_the_circuit_is_open() -> None:
    fake = FakeProvider(responses=[answer(), ServerError("down")])
    client = Aether(
        fake,
        cache=True,
        retry=RetryPolicy(attempts=1),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=1, cooldown=60),
    )
    await client.ask("hi")
    with pytest.raises(ServerError):
        await client.ask("new question")
    with pytest.raises(CircuitOpenError):
        await client.ask("another new question")
    assert await client.ask("hi") == "Paris is the capital of France."


async def test_a_hit_fires_no_request_event() -> None:
    client = Aether(provider(), cache=True)
    events: list[Event] = []
    client.on("*", events.append)
    await client.ask("hi")
    async for _chunk in client.stream("hi"):
        pass
    assert [event.name for event in events].count("request.complete") == 2
    del events[:]
    await client.ask("hi")
    async for _chunk in client.stream("hi"):
        pass
    assert not [event for event in events if event.name.startswith("request.")]


async def test_a_streamed_hit_is_still_one_logical_stream_for_the_caller() -> None:
    client = Aether(provider(), cache=True)
    async for _chunk in client.stream("hi"):
        pass
    events: list[Event] = []
    client.on("*", events.append)
    async for _chunk in client.stream("hi"):
        pass
    names = [event.name for event in events]
    assert names[0] == "stream.start"
    assert names[-1] == "stream.complete"
    assert "stream.chunk" in names
    assert events[-1].cost_usd == 0.0  # type: ignore[attr-defined]


async def test_user_middleware_sees_hits_through_the_request_context() -> None:
    statuses: list[str] = []

    async def audit(request: LLMRequest, call_next: Any) -> LLMResponse:
        response: LLMResponse = await call_next(request)
        statuses.append(request.context["aether.cache_status"])
        return response

    client = Aether(provider(), cache=True, middleware=[audit])
    await client.ask("hi")
    await client.ask("hi")
    assert statuses == ["miss", "hit"]


def test_cache_true_builds_an_in_memory_cache_keyed_by_the_provider() -> None:
    client = Aether(FakeProvider(), cache=True)
    assert client.cache is not None
    assert client.cache.provider == "fake"
    assert isinstance(client.cache.backend, InMemoryCacheBackend)


def test_an_empty_backend_still_turns_the_cache_on() -> None:
    backend = InMemoryCacheBackend()
    assert not backend  # empty, so falsy: the facade must not test it for truth
    client = Aether(FakeProvider(), cache=backend)
    assert client.cache is not None
    assert client.cache.backend is backend
    assert client.cache.provider == "fake"


def test_a_cache_middleware_is_used_as_given() -> None:
    cache = CacheMiddleware(InMemoryCacheBackend(), provider="shared")
    client = Aether(FakeProvider(), cache=cache)
    assert client.cache is cache


@pytest.mark.parametrize("off", [None, False])
def test_none_and_false_leave_the_cache_out(off: Any) -> None:
    assert Aether(FakeProvider(), cache=off).cache is None


def test_cache_with_a_whole_stack_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="put a CacheMiddleware in the stack"):
        Aether(FakeProvider(), stack=[], cache=True)


def test_a_cache_in_your_own_stack_is_found() -> None:
    cache = CacheMiddleware()
    client = Aether(FakeProvider(), stack=[cache])
    assert client.cache is cache
    assert client.pipeline.names == ["Cache", "fake"]


async def test_bypass_holds_for_every_model_call_of_the_loop(
    tool_runs: list[tuple[int, int]],
) -> None:
    fake = FakeProvider(responder=adding_model)
    client = Aether(fake, cache=True)
    await client.ask("What is 17 + 25?", tools=["add"], cache="bypass")
    await client.ask("What is 17 + 25?", tools=["add"])
    assert len(fake.requests) == 4
    assert client.cache is not None
    assert (client.cache.stats.bypasses, client.cache.stats.misses) == (2, 2)
