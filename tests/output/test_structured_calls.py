"""Structured output in calls, on the Fake provider: typed answers, re-asks, refusals."""

from __future__ import annotations

import functools
import json
from typing import Any, Literal

import anyio
import pytest

from aether import (
    Aether,
    ContentFilterError,
    OutputRefusedError,
    OutputValidationError,
    default_stack,
)
from aether.errors import BadRequestError, ConfigurationError, ToolError
from aether.events import REQUEST_COMPLETE, Event
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMRequest, LLMResponse, Message, TokenCounts, Tool, ToolCall
from aether.middleware.cache import CacheMiddleware
from aether.middleware.structured_output import OutputAttempt, StructuredOutputMiddleware
from tests.output._models import ISSUE_SCHEMA, Cat, Color, Dog, Invoice, Item, Movie, Point

VALID = '{"customer": "Ada", "items": [{"name": "widget", "quantity": 3, "unit_price": 2.5}]}'
INVALID = '{"customer": "Ada", "items": [{"name": "widget", "quantity": 0, "unit_price": 2.5}]}'


def scripted(*texts: str | LLMResponse, tokens: int = 10) -> FakeProvider:
    return FakeProvider(
        responses=[
            item
            if isinstance(item, LLMResponse)
            else LLMResponse(text=item, model="m", tokens=TokenCounts(input=tokens, output=5))
            for item in texts
        ]
    )


async def test_ask_returns_a_validated_instance() -> None:
    invoice = await Aether(FakeProvider()).ask("Bill Ada for 3 widgets", output_type=Invoice)
    assert isinstance(invoice, Invoice)
    assert invoice.items[0] == Item(
        name="name", quantity=1, unit_price=1, color=Color.RED, tags=["tags"]
    )


async def test_complete_gives_the_text_the_output_and_the_mode() -> None:
    response = await Aether(scripted(VALID)).complete("Bill Ada", output_type=Invoice)
    assert response.text == VALID
    assert response.output == Invoice.model_validate_json(VALID)
    assert response.output_mode == "native"


@pytest.mark.parametrize(
    ("output_type", "expected"),
    [
        (list[str], ["result"]),
        (int, 1),
        (Literal["yes", "no"], "yes"),
        (Cat | Dog, Cat(kind="cat", meows=1)),
        (Point, Point(1, 1)),
        (Movie, {"title": "title", "year": 1}),
        (ISSUE_SCHEMA, {"title": "title", "labels": ["labels"]}),
    ],
)
async def test_every_kind_of_output_type_comes_back_validated(
    output_type: Any, expected: Any
) -> None:
    assert await Aether(FakeProvider()).ask("x", output_type=output_type) == expected


async def test_an_invalid_answer_goes_back_with_its_errors_and_the_next_is_used() -> None:
    fake = scripted(INVALID, VALID)
    client = Aether(fake)
    completed: list[Event] = []
    client.on(REQUEST_COMPLETE, completed.append)
    response = await client.complete("Bill Ada", output_type=Invoice)
    assert response.output is not None
    assert response.output.items[0].quantity == 3
    assert len(fake.requests) == 2
    *_, answer, feedback = fake.requests[1].messages
    assert answer == Message(role="assistant", content=INVALID)
    assert feedback.role == "user"
    assert "items.0.quantity: Input should be greater than or equal to 1" in feedback.text
    # Each attempt billed, counted and evented; the response sums them.
    assert client.usage.total_requests == 2
    assert len(completed) == 2
    assert response.tokens == TokenCounts(input=20, output=10)
    assert response.tool_messages == (answer, feedback)


async def test_an_answer_that_is_not_json_is_asked_again() -> None:
    fake = scripted("Sure, here is the invoice.", VALID)
    assert (await Aether(fake).ask("x", output_type=Invoice)).customer == "Ada"
    assert "not valid JSON" in fake.requests[1].messages[-1].text


async def test_always_invalid_fails_with_the_text_the_errors_and_every_attempt() -> None:
    fake = scripted(INVALID, "not json", INVALID)
    client = Aether(fake)
    with pytest.raises(OutputValidationError) as caught:
        await client.ask("Bill Ada", output_type=Invoice)
    error = caught.value
    assert len(fake.requests) == 3  # the default: two re-asks
    assert error.text == INVALID
    assert [item["loc"] for item in error.errors] == [("items", 0, "quantity")]
    assert [attempt.text for attempt in error.attempts] == [INVALID, "not json", INVALID]
    assert all(isinstance(attempt, OutputAttempt) for attempt in error.attempts)
    assert error.attempts[1].errors[0]["type"] == "json_invalid"
    assert error.attempts[0].tokens == TokenCounts(input=10, output=5)
    assert "3 answers failed validation" in str(error)
    assert client.usage.total_requests == 3  # billed all the same


async def test_output_retries_sets_how_many_times_it_asks_again() -> None:
    fake = scripted(INVALID, INVALID)
    with pytest.raises(OutputValidationError) as caught:
        await Aether(fake).ask("x", output_type=Invoice, output_retries=1)
    assert len(caught.value.attempts) == 2
    fake = scripted(INVALID)
    with pytest.raises(OutputValidationError):
        await Aether(fake).ask("x", output_type=Invoice, output_retries=0)
    assert len(fake.requests) == 1


async def test_the_middleware_default_applies_when_the_call_sets_none() -> None:
    fake = scripted(INVALID, INVALID)
    stack = default_stack(structured_output=StructuredOutputMiddleware(retries=1))
    with pytest.raises(OutputValidationError):
        await Aether(fake, stack=stack).ask("x", output_type=Invoice)
    assert len(fake.requests) == 2


async def test_a_refusal_is_its_own_error_and_is_not_asked_again() -> None:
    refusal = LLMResponse(text="I can't help with that.", model="m", finish_reason="content_filter")
    fake = scripted(refusal, VALID)
    with pytest.raises(OutputRefusedError) as caught:
        await Aether(fake).ask("x", output_type=Invoice)
    assert isinstance(caught.value, ContentFilterError)
    assert not isinstance(caught.value, OutputValidationError)
    assert caught.value.refusal == "I can't help with that."
    assert caught.value.response.finish_reason == "content_filter"
    assert len(fake.requests) == 1


async def test_an_answer_cut_by_max_tokens_is_not_asked_again() -> None:
    cut = LLMResponse(text='{"customer": "Ada", "ite', model="m", finish_reason="length")
    fake = scripted(cut, VALID)
    with pytest.raises(OutputValidationError, match="max_tokens") as caught:
        await Aether(fake).ask("x", output_type=Invoice)
    assert caught.value.text == '{"customer": "Ada", "ite'
    assert len(fake.requests) == 1


async def test_a_call_cancelled_during_a_reask_leaves_no_history() -> None:
    asked_again = anyio.Event()

    async def responder(request: LLMRequest) -> str:
        if len(request.messages) == 1:
            return INVALID
        asked_again.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    client = Aether(FakeProvider(responder=responder))
    session = client.session("cancelled")
    async with anyio.create_task_group() as group:
        group.start_soon(functools.partial(session.ask, "Bill Ada", output_type=Invoice))
        await asked_again.wait()
        group.cancel_scope.cancel()
    assert await session.history() == []
    assert client.usage.total_requests == 1  # the first attempt billed; the second never ended


async def test_tools_run_first_then_the_answer_is_structured() -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    response = await Aether(FakeProvider()).complete(
        "What is 17 + 25?", tools=[add], output_type=list[int]
    )
    assert response.output == [1]
    assert [message.role for message in response.tool_messages] == ["assistant", "tool"]
    assert response.tool_messages[1].text == "42"


async def test_a_reask_after_tools_sends_the_whole_conversation_back() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    fake = scripted(
        LLMResponse(
            text="",
            model="m",
            tool_calls=(ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2}),),
            finish_reason="tool_calls",
        ),
        '{"result": "three"}',
        '{"result": 3}',
    )
    response = await Aether(fake).complete("1+2?", tools=[add], output_type=int)
    assert response.output == 3
    resent = fake.requests[2].messages
    assert [message.role for message in resent] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert resent[2].text == "3"
    assert resent[3].text == '{"result": "three"}'
    assert [message.role for message in response.tool_messages] == [
        "assistant", "tool", "assistant", "user"
    ]  # fmt: skip


async def test_tool_calls_handed_back_come_without_an_output() -> None:
    lookup = Tool(name="lookup", parameters={"type": "object", "properties": {}})
    client = Aether(FakeProvider())
    response = await client.complete("x", tools=[lookup], output_type=Invoice)
    assert response.output is None
    assert [call.name for call in response.tool_calls] == ["lookup"]
    with pytest.raises(ToolError, match="you run yourself"):
        await client.ask("x", tools=[lookup], output_type=Invoice)


async def test_output_options_without_an_output_type_are_refused() -> None:
    client = Aether(FakeProvider())
    with pytest.raises(ConfigurationError, match="give output_type= too"):
        await client.ask("x", output_mode="tool")
    with pytest.raises(ConfigurationError, match="whole number"):
        await client.ask("x", output_type=Invoice, output_retries=-1)


async def test_a_stack_without_the_middleware_refuses_output_type_saying_what_to_add() -> None:
    fake = FakeProvider()
    client = Aether(fake, stack=default_stack(structured_output=False))
    with pytest.raises(ConfigurationError, match="StructuredOutputMiddleware"):
        await client.ask("x", output_type=Invoice)
    assert fake.requests == []
    invoice = await client.ask("x", output_type=Invoice, middleware=[StructuredOutputMiddleware()])
    assert isinstance(invoice, Invoice)


class PlainProvider:
    """A provider of your own, knowing nothing of structured output."""

    def __init__(self, answer: LLMResponse) -> None:
        self.answer = answer
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        return self.answer


async def test_a_provider_of_your_own_gets_the_schema_in_its_instructions() -> None:
    provider = PlainProvider(LLMResponse(text='{"x": 1, "y": 2}', model="m"))
    response = await Aether(provider).complete("Where?", output_type=Point)
    assert response.output == Point(1, 2)
    assert response.output_mode == "prompted"
    instruction, prompt = provider.requests[0].messages
    assert instruction.role == "system"
    assert '"required":["x","y"]' in instruction.text
    assert prompt.text == "Where?"


async def test_a_provider_of_your_own_answers_through_the_output_tool_in_tool_mode() -> None:
    call = ToolCall(id="t1", name="final_result", arguments={"x": 3, "y": 4})
    provider = PlainProvider(LLMResponse(text="", model="m", tool_calls=(call,)))
    response = await Aether(provider).complete("Where?", output_type=Point, output_mode="tool")
    assert response.output == Point(3, 4)
    assert response.output_mode == "tool"
    sent = provider.requests[0]
    assert [tool.name for tool in sent.tools] == ["final_result"]
    assert sent.tool_choice == "final_result"


async def test_a_provider_of_your_own_is_not_sent_a_native_request() -> None:
    provider = PlainProvider(LLMResponse(text="{}", model="m"))
    with pytest.raises(BadRequestError, match="no native structured output"):
        await Aether(provider).ask("x", output_type=Point, output_mode="native")
    assert provider.requests == []


async def test_the_cache_key_holds_the_output_schema() -> None:
    client = Aether(FakeProvider())
    cache = CacheMiddleware()
    keys = {
        cache.key(client.request("Bill Ada")),
        cache.key(client.request("Bill Ada", output_type=Invoice)),
        cache.key(client.request("Bill Ada", output_type=Item)),
        cache.key(client.request("Bill Ada", output_type=Invoice, output_mode="tool")),
    }
    assert len(keys) == 4


async def test_a_cache_hit_comes_back_validated() -> None:
    fake = scripted(VALID)
    client = Aether(fake, cache=True)
    first = await client.complete("Bill Ada", output_type=Invoice)
    second = await client.complete("Bill Ada", output_type=Invoice)
    assert len(fake.requests) == 1
    assert client.cache is not None
    assert client.cache.stats.hits == 1
    assert second.output == first.output == Invoice.model_validate_json(VALID)


async def test_a_cached_invalid_answer_is_asked_again_from_the_cache_at_no_cost() -> None:
    fake = scripted(INVALID, VALID)
    client = Aether(fake, cache=True)
    first = await client.ask("Bill Ada", output_type=Invoice)
    second = await client.ask("Bill Ada", output_type=Invoice)
    assert first == second
    assert len(fake.requests) == 2  # the answer and the re-ask, both served from the cache
    assert client.cache is not None
    assert client.cache.stats.hits == 2
    assert client.usage.total_requests == 2


async def test_a_ready_request_takes_the_output_type_and_keeps_its_own() -> None:
    client = Aether(FakeProvider())
    request = client.request("x", output_type=Point)
    assert request.output is not None
    assert request.output.name == "Point"
    assert await client.ask(request, output_type=Point) == Point(1, 1)
    response = await client.complete(request, output_mode="tool")
    assert response.output_mode == "tool"
    assert response.output == Point(1, 1)


async def test_sessions_keep_the_json_text_of_the_answer() -> None:
    client = Aether(scripted(INVALID, VALID))
    session = client.session("invoices")
    invoice = await session.ask("Bill Ada", output_type=Invoice)
    assert invoice.customer == "Ada"
    assert await session.history() == [
        Message(role="user", content="Bill Ada"),
        Message(role="assistant", content=VALID),
    ]


async def test_modes_are_asked_for_as_requested_and_reported() -> None:
    for mode in ("native", "tool", "prompted"):
        fake = FakeProvider()
        response = await Aether(fake).complete("x", output_type=Invoice, output_mode=mode)
        assert response.output_mode == mode
        assert json.loads(response.text) == response.output.model_dump(mode="json")  # type: ignore[union-attr]
    assert (await Aether(FakeProvider()).complete("x", output_type=Invoice)).output_mode == "native"
