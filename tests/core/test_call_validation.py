"""Bad input to the public API fails before anything is sent, naming the problem and the fix."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from aether import Aether, LLMRequest, Message, RetryPolicy
from aether.errors import ConfigurationError, ToolError
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.circuit_breaker import CircuitBreakerPolicy


async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider(canned_response="ok")


async def test_a_misspelt_option_is_refused_with_the_likely_one(fake: FakeProvider) -> None:
    client = Aether(fake)
    with pytest.raises(TypeError, match=r"'max_token' \(did you mean 'max_tokens'\?\)"):
        await client.ask("hi", max_token=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="provider_options"):
        await client.ask("hi", seed=7)  # type: ignore[call-arg]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"temperature": 5}, r"temperature: .*less than or equal to 2 \(got 5\)"),
        ({"temperature": -0.1}, r"temperature: .*greater than or equal to 0"),
        ({"temperature": math.nan}, r"temperature: .*finite number"),
        ({"top_p": 7}, r"top_p: .*less than or equal to 1 \(got 7\)"),
        ({"max_tokens": -5}, r"max_tokens: .*greater than or equal to 1 \(got -5\)"),
        ({"max_tokens": 2.5}, r"max_tokens: "),
        ({"stop": 5}, r"stop= takes a string or a list of strings, not 5"),
        ({"tool_choice": "bogus"}, r"tool_choice='bogus' is neither .*\(no tools\)"),
        ({"tool_choice": "sub", "tools": [add]}, r"tool_choice='sub' .*\('add'\)"),
    ],
)
async def test_an_option_out_of_range_is_refused_by_name(
    fake: FakeProvider, options: dict[str, Any], says: str
) -> None:
    client = Aether(fake)
    with pytest.raises(ConfigurationError, match=says):
        await client.ask("hi", **options)
    with pytest.raises(ConfigurationError, match=says):
        async for _ in client.stream_text("hi", **options):
            pass
    assert fake.requests == []


async def test_options_at_the_edges_of_their_ranges_are_sent(fake: FakeProvider) -> None:
    client = Aether(fake)
    await client.ask("hi", temperature=0, top_p=1, max_tokens=1, stop="END")
    await client.ask("hi", temperature=2, top_p=0, tool_choice="add", tools=[add])
    first, second = fake.requests
    assert (first.temperature, first.top_p, first.max_tokens, first.stop) == (0, 1, 1, ("END",))
    assert (second.temperature, second.tool_choice) == (2, "add")


async def test_options_given_to_a_ready_made_request_are_checked_too(fake: FakeProvider) -> None:
    client = Aether(fake)
    request = LLMRequest(messages=(Message(role="user", content="hi"),))
    with pytest.raises(ConfigurationError, match="temperature"):
        await client.ask(request, temperature=9)
    with pytest.raises(TypeError, match="max_token"):
        await client.ask(request, max_token=9)  # type: ignore[call-arg]
    assert await client.ask(request, temperature=1) == "ok"
    assert fake.last_request.temperature == 1


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        (123, "the prompt must be a string, a list of Message or an LLMRequest, not int"),
        ({"role": "user"}, "not dict"),
        ([], "the conversation is empty"),
        (["hi"], "item 0 of the conversation is str, not a Message"),
    ],
)
async def test_a_prompt_of_the_wrong_shape_says_what_to_give(
    fake: FakeProvider, prompt: Any, says: str
) -> None:
    with pytest.raises(ConfigurationError, match=says):
        await Aether(fake).ask(prompt)


async def test_a_conversation_may_be_given_as_plain_dicts(fake: FakeProvider) -> None:
    assert await Aether(fake).ask([{"role": "user", "content": "hi"}]) == "ok"  # type: ignore[list-item]
    assert fake.last_request.messages == (Message(role="user", content="hi"),)


@pytest.mark.parametrize("tools", ["add", add])
async def test_a_single_tool_instead_of_a_list_says_to_wrap_it(
    fake: FakeProvider, tools: Any
) -> None:
    with pytest.raises(
        ToolError, match=r"tools= takes a list of tools, .*tools=\['add'\]|tools=\[add\]"
    ):
        await Aether(fake).ask("hi", tools=tools)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: RetryPolicy(attempts="3"), r"attempts must be a whole number, not '3' \(str\)"),
        (lambda: RetryPolicy(base_delay=math.nan), "base_delay must be a finite number"),
        (lambda: RetryPolicy(jitter=2), "jitter must be at most 1"),
        (lambda: CircuitBreakerPolicy(failure_threshold=2.5), "failure_threshold must be a whole"),
        (lambda: CircuitBreakerPolicy(cooldown=math.inf), "cooldown must be a finite number"),
        (lambda: Aether(FakeProvider(), budget_usd="10"), "budget_usd must be a number"),
        (
            lambda: Aether(FakeProvider()).session("s", max_history_messages="3"),
            "max_history_messages must be a whole number",
        ),
    ],
)
def test_a_setting_of_the_wrong_type_is_named(build: Callable[[], object], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        build()
