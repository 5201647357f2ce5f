"""Telemetry of calls: one span per model call, its attributes, retries, cache, tools."""

from __future__ import annotations

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import SpanKind, StatusCode

from aether import Aether, ModelPricing, RetryPolicy
from aether.errors import BadRequestError, RateLimitError
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMResponse, Tool, ToolCall
from aether.middleware import _telemetry_names as aether_names
from aether.testing.wire import MockServer, ScriptedReply, ScriptedUsage
from aether.testing.wires import OPENAI_WIRE
from tests.telemetry._otel import Otel, attributes, parent_of, span_id

NO_WAIT = RetryPolicy(attempts=3, base_delay=0, jitter=0)


def _answer(text: str = "ok", **fields: object) -> LLMResponse:
    return LLMResponse(text=text, model="m-served", input_tokens=10, output_tokens=5, **fields)


async def test_call_span_carries_request_and_response_attributes(otel: Otel) -> None:
    usage = ScriptedUsage(input_tokens=40, output_tokens=9, cached_input_tokens=30,
                          reasoning_tokens=4)  # fmt: skip
    server = MockServer(OPENAI_WIRE, [ScriptedReply(text=("Hi",), model="gpt-x-2025", usage=usage)])
    provider = OPENAI_WIRE.build_provider(server)
    telemetry = otel.middleware(provider="openai", base_url=provider.base_url)
    async with Aether(provider, telemetry=telemetry) as client:
        await client.complete("hi", model="gpt-x", temperature=0.3, max_tokens=50, top_p=0.9,
                              stop=["END"])  # fmt: skip
    span = otel.one("chat gpt-x")
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    found = dict(span.attributes or {})
    assert found[gen_ai.GEN_AI_OPERATION_NAME] == gen_ai.GenAiOperationNameValues.CHAT.value
    assert found[gen_ai.GEN_AI_PROVIDER_NAME] == gen_ai.GenAiProviderNameValues.OPENAI.value
    assert found[gen_ai.GEN_AI_REQUEST_MODEL] == "gpt-x"
    assert found[gen_ai.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert found[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert found[gen_ai.GEN_AI_REQUEST_TOP_P] == 0.9
    assert found[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert found[gen_ai.GEN_AI_RESPONSE_MODEL] == "gpt-x-2025"
    assert found[gen_ai.GEN_AI_RESPONSE_ID] == "chatcmpl-scripted"
    assert found[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert found[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 40
    assert found[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert found[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 30
    assert found[gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 4
    assert found[server_attributes.SERVER_ADDRESS] == "api.openai.com"
    assert found[server_attributes.SERVER_PORT] == 443
    assert gen_ai.GEN_AI_REQUEST_STREAM not in found
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in found  # content is opt-in
    assert gen_ai.GEN_AI_OUTPUT_MESSAGES not in found


async def test_call_metrics_record_duration_tokens_and_cost(otel: Otel) -> None:
    fake = FakeProvider(responses=[_answer()])
    prices = {"m": ModelPricing(input_per_mtok=1.0, output_per_mtok=2.0)}
    client = Aether(fake, telemetry=otel.middleware(provider="fake"), prices=prices)
    await client.ask("hi", model="m")
    expected = {
        gen_ai.GEN_AI_OPERATION_NAME: "chat",
        gen_ai.GEN_AI_PROVIDER_NAME: "fake",
        gen_ai.GEN_AI_REQUEST_MODEL: "m",
        gen_ai.GEN_AI_RESPONSE_MODEL: "m-served",
    }
    [duration] = otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION)
    assert dict(duration.attributes or {}) == expected
    assert duration.count == 1
    tokens = otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE)
    by_type = {dict(point.attributes or {})[gen_ai.GEN_AI_TOKEN_TYPE]: point for point in tokens}
    assert by_type["input"].sum == 10
    assert by_type["output"].sum == 5
    assert by_type["input"].explicit_bounds[:3] == (1, 4, 16)
    [cost] = otel.points(aether_names.COST)
    assert cost.sum == pytest.approx(10 / 1e6 + 10 / 1e6)
    assert client.usage.total_cost_usd == pytest.approx(cost.sum)
    assert otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == []


async def test_failed_call_records_error_type_and_status(otel: Otel) -> None:
    fake = FakeProvider(responses=[BadRequestError("no such model", provider="fake")])
    client = Aether(fake, telemetry=otel.middleware())
    with pytest.raises(BadRequestError):
        await client.ask("hi")
    span = otel.one("chat fake-model")
    assert span.status.status_code is StatusCode.ERROR
    assert "no such model" in (span.status.description or "")
    assert (span.attributes or {})[error_attributes.ERROR_TYPE] == "BadRequestError"
    [duration] = otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION)
    assert (duration.attributes or {})[error_attributes.ERROR_TYPE] == "BadRequestError"
    assert otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE) == []


async def test_retries_show_as_attempt_events_on_the_model_call(otel: Otel) -> None:
    fake = FakeProvider(
        responses=[RateLimitError("slow down", provider="fake"),
                   RateLimitError("slow down again", provider="fake"), _answer()]
    )  # fmt: skip
    client = Aether(fake, telemetry=otel.middleware(), retry=NO_WAIT)
    assert await client.ask("hi") == "ok"
    span = otel.one("chat fake-model")
    assert span.status.status_code is StatusCode.UNSET
    assert (span.attributes or {})[aether_names.ATTEMPTS] == 3
    events = [(event.name, dict(event.attributes or {})) for event in span.events]
    assert [name for name, _ in events] == ["exception", "exception"]
    assert [found[aether_names.ATTEMPT] for _, found in events] == [1, 2]
    assert {found["exception.type"] for _, found in events} == {"RateLimitError"}
    assert "slow down again" in events[1][1]["exception.message"]


async def test_cache_hit_is_marked_and_bills_no_tokens(otel: Otel) -> None:
    fake = FakeProvider(responses=[_answer()])
    client = Aether(fake, telemetry=otel.middleware(), cache=True)
    await client.ask("same question")
    await client.ask("same question")
    first, second = otel.named("chat fake-model")
    assert (first.attributes or {})[aether_names.CACHE_HIT] is False
    assert (second.attributes or {})[aether_names.CACHE_HIT] is True
    assert (second.attributes or {})[gen_ai.GEN_AI_RESPONSE_MODEL] == "m-served"
    tokens = otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE)
    assert sum(point.count for point in tokens) == 2  # input and output, first call only
    [duration] = otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.count == 2


async def test_tool_loop_nests_model_calls_and_parallel_tools(otel: Otel) -> None:
    both_started = anyio.Event()
    started: list[str] = []
    current: dict[str, int] = {}

    async def wait_for_both(name: str) -> str:
        started.append(name)
        current[name] = trace.get_current_span().get_span_context().span_id
        if len(started) == 2:
            both_started.set()
        await both_started.wait()  # both run at once, or this never returns
        return name.upper()

    def tool(name: str) -> Tool:
        async def handler(arguments: dict[str, object]) -> str:
            return await wait_for_both(name)

        return Tool(name=name, description=f"The {name} tool", handler=handler)

    calls = (ToolCall(id="c1", name="left"), ToolCall(id="c2", name="right"))
    fake = FakeProvider(responses=[_answer("", tool_calls=calls), _answer("done")])
    client = Aether(fake, telemetry=otel.middleware())
    with anyio.fail_after(5):
        response = await client.complete("go", tools=[tool("left"), tool("right")])
    assert response.text == "done"
    agent = otel.one("invoke_agent")
    assert agent.kind is SpanKind.INTERNAL
    assert parent_of(agent) is None
    chats = otel.named("chat fake-model")
    tools = otel.named("execute_tool left") + otel.named("execute_tool right")
    assert len(chats) == 2
    assert len(tools) == 2
    assert {parent_of(span) for span in chats + tools} == {span_id(agent)}
    assert {span.context.trace_id for span in otel.spans() if span.context} == {
        agent.context.trace_id if agent.context else 0
    }
    for span in tools:
        found = dict(span.attributes or {})
        name = found[gen_ai.GEN_AI_TOOL_NAME]
        assert span.name == f"execute_tool {name}"
        assert found[gen_ai.GEN_AI_OPERATION_NAME] == "execute_tool"
        assert found[gen_ai.GEN_AI_TOOL_CALL_ID] == {"left": "c1", "right": "c2"}[name]
        assert found[gen_ai.GEN_AI_TOOL_DESCRIPTION] == f"The {name} tool"
        assert current[name] == span_id(span)  # the tool ran inside its own span
    left, right = tools
    assert left.start_time < right.end_time
    assert right.start_time < left.end_time
    assert (agent.attributes or {})[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 20
    tokens = otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE)
    input_sum = sum(p.sum for p in tokens if (p.attributes or {})["gen_ai.token.type"] == "input")
    assert input_sum == 20  # the model calls' tokens, not counted again for the agent
    operations = {found[gen_ai.GEN_AI_OPERATION_NAME] for found in attributes(
        otel.points(gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION))}  # fmt: skip
    assert operations == {"chat", "execute_tool", "invoke_agent"}


async def test_failing_tool_records_its_error_type_only(otel: Otel) -> None:
    async def broken(arguments: dict[str, object]) -> str:
        raise ValueError("password=hunter2hunter2 leaked")

    calls = (ToolCall(id="c1", name="broken"),)
    fake = FakeProvider(responses=[_answer("", tool_calls=calls), _answer("sorry")])
    client = Aether(fake, telemetry=otel.middleware())
    await client.ask("go", tools=[Tool(name="broken", handler=broken)])
    span = otel.one("execute_tool broken")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError"
    assert (span.attributes or {})[error_attributes.ERROR_TYPE] == "ValueError"


async def test_placed_alone_it_records_the_request_and_its_tools(otel: Otel) -> None:
    calls = (ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2}),)
    fake = FakeProvider(responses=[_answer("", tool_calls=calls), _answer("3")])

    async def add(arguments: dict[str, int]) -> int:
        return arguments["a"] + arguments["b"]

    client = Aether(fake, middleware=[otel.middleware()])
    await client.ask("1+2?", tools=[Tool(name="add", handler=add)])  # type: ignore[arg-type]
    assert sorted(span.name for span in otel.spans()) == ["execute_tool add", "invoke_agent"]
    tokens = otel.points(gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE)
    assert sum(point.sum for point in tokens) == 30  # counted once, at the request


async def test_cancelled_call_is_recorded(otel: Otel) -> None:
    entered = anyio.Event()

    async def hang(request: object) -> LLMResponse:
        entered.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    client = Aether(FakeProvider(responder=hang), telemetry=otel.middleware())
    async with anyio.create_task_group() as group:
        group.start_soon(client.ask, "hi")
        await entered.wait()
        group.cancel_scope.cancel()
    span = otel.one("chat fake-model")
    assert span.end_time is not None
    assert span.status.status_code is StatusCode.ERROR
    found = dict(span.attributes or {})
    assert found[aether_names.OUTCOME] == "cancelled"
    assert found[error_attributes.ERROR_TYPE] == anyio.get_cancelled_exc_class().__qualname__


async def test_each_model_call_of_a_tool_loop_is_marked_hit_or_miss(otel: Otel) -> None:
    calls = (ToolCall(id="c1", name="now"),)
    fake = FakeProvider(responses=[_answer("", tool_calls=calls), _answer("noon")])

    async def now(arguments: dict[str, object]) -> str:
        return "12:00"

    client = Aether(fake, telemetry=otel.middleware(), cache=True)
    for _ in range(2):
        assert await client.ask("time?", tools=[Tool(name="now", handler=now)]) == "noon"
    chats = otel.named("chat fake-model")
    assert [(span.attributes or {})[aether_names.CACHE_HIT] for span in chats] == [
        False, False, True, True,
    ]  # fmt: skip
    assert len(otel.named("execute_tool now")) == 2  # the tool still runs on a hit
    assert len(fake.requests) == 2
