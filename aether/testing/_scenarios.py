"""The suite's scenarios for successful calls: requests out, answers in."""

from __future__ import annotations

from contextlib import aclosing

import anyio

from aether.errors import BadRequestError
from aether.llm.contracts import FinishReason, Message, Tool, ToolCall
from aether.testing.provider_suite import ScenarioKit, expect, scenario
from aether.testing.wire import (
    ScriptedReply,
    ScriptedToolCall,
    ScriptedUsage,
    StalledStream,
    WireTool,
)

ADD = Tool(
    name="add",
    description="Add two integers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
WEATHER = Tool(
    name="weather",
    description="Today's weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@scenario()
async def text_answer_with_reported_model(kit: ScenarioKit) -> None:
    provider, server = kit.serve(
        ScriptedReply(text=("Hello", ", world", "!"), model="served-model-2025-01-01")
    )
    outcome = await kit.call(provider, kit.request("hi", model="asked-model"))
    expect(outcome.response.text, "Hello, world!", "text")
    expect(outcome.response.model, "served-model-2025-01-01", "model the server reported")
    expect(outcome.response.finish_reason, "stop", "finish reason")
    expect(outcome.response.provider, kit.wire.name, "provider")
    if kit.mode == "stream":
        expect(outcome.text_deltas, ["Hello", ", world", "!"], "text deltas in order")
    expect(len(server.requests), 1, "requests sent")
    expect(server.last.stream, kit.mode == "stream", "request asked for a stream")
    expect(server.last.model, "asked-model", "model sent")
    expect(server.last.messages, (Message(role="user", content="hi"),), "messages sent")


@scenario()
async def response_id_reported(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ScriptedReply(text=("ok",)))
    outcome = await kit.call(provider, kit.request("hi"))
    found = outcome.response.response_id
    expect(isinstance(found, str) and bool(found), True, f"a response id (got {found!r})")


@scenario()
async def default_model_sent_when_request_names_none(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("ok",)), default_model="house-model")
    await kit.call(provider, kit.request("hi"))
    expect(server.last.model, "house-model", "model sent")
    expect(provider.default_model, "house-model", "provider.default_model")


@scenario()
async def system_and_history_mapped(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("Alice.",)))
    history = (
        Message(role="user", content="My name is Alice."),
        Message(role="assistant", content="Nice to meet you, Alice."),
        Message(role="user", content="What is my name?"),
    )
    await kit.call(
        provider, kit.request(Message(role="system", content="You are terse."), *history)
    )
    expect(server.last.system, "You are terse.", "system text")
    expect(server.last.messages, history, "conversation without the system message")


@scenario()
async def sampling_parameters_sent(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("ok",)))
    request = kit.request("hi", temperature=0.25, top_p=0.5, max_tokens=64)
    await kit.call(provider, request)
    sent = server.last
    expect(sent.temperature, 0.25 if kit.supports("temperature") else None, "temperature")
    expect(sent.top_p, 0.5 if kit.supports("top_p") else None, "top_p")
    expect(sent.max_tokens, 64, "max_tokens")


@scenario()
async def stop_sequences_sent_or_refused_before_sending(kit: ScenarioKit) -> None:
    """A wire without stop sequences (OpenAI's Responses API) refuses them, never drops them."""
    provider, server = kit.serve(ScriptedReply(text=("ok",)))
    request = kit.request("hi", stop=("END", "##"))
    if kit.supports("stop"):
        await kit.call(provider, request)
        expect(server.last.stop, ("END", "##"), "stop sequences")
        return
    error, _ = await kit.call_failing(provider, request, BadRequestError)
    expect(len(server.requests), 0, "requests sent")
    expect("stop" in str(error), True, f"the error names stop: {error}")


@scenario()
async def tools_and_tool_choice_sent(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("ok",)), ScriptedReply(text=("ok",)))
    await kit.call(provider, kit.request("hi", tools=(ADD, WEATHER), tool_choice="required"))
    expect(
        server.last.tools,
        tuple(WireTool(tool.name, tool.description, tool.parameters) for tool in (ADD, WEATHER)),
        "tool definitions",
    )
    expect(server.last.tool_choice, "required", "tool choice")
    await kit.call(provider, kit.request("hi", tools=(ADD, WEATHER), tool_choice="weather"))
    expect(server.last.tool_choice, "weather", "a named tool choice")


@scenario()
async def no_tools_sent_without_tools(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("ok",)))
    await kit.call(provider, kit.request("hi", tool_choice="auto"))
    expect((server.last.tools, server.last.tool_choice), ((), None), "tools and tool choice")


@scenario()
async def tool_call_assembled_from_fragments(kit: ScenarioKit) -> None:
    call = ScriptedToolCall("call_17", "add", ('{"a": 1', '7, "b"', ": 25}"))
    provider, _ = kit.serve(
        ScriptedReply(text=("Let me add those.",), tool_calls=(call,), finish_reason="tool_calls")
    )
    outcome = await kit.call(provider, kit.request("What's 17+25?", tools=(ADD,)))
    expect(
        outcome.response.tool_calls,
        (ToolCall(id="call_17", name="add", arguments={"a": 17, "b": 25}),),
        "tool calls",
    )
    expect(outcome.response.text, "Let me add those.", "text before the tool call")
    expect(outcome.response.finish_reason, "tool_calls", "finish reason")


@scenario()
async def parallel_tool_calls(kit: ScenarioKit) -> None:
    calls = (
        ScriptedToolCall("call_a", "weather", ('{"city": ', '"Paris"}')),
        ScriptedToolCall("call_b", "weather", ('{"city": "Oslo"}',)),
    )
    provider, _ = kit.serve(ScriptedReply(tool_calls=calls, finish_reason="tool_calls"))
    outcome = await kit.call(provider, kit.request("Weather?", tools=(WEATHER,)))
    expect(
        outcome.response.tool_calls,
        (
            ToolCall(id="call_a", name="weather", arguments={"city": "Paris"}),
            ToolCall(id="call_b", name="weather", arguments={"city": "Oslo"}),
        ),
        "tool calls in order",
    )
    expect(outcome.response.text, "", "text")


@scenario(requires=("raw_tool_arguments",))
async def unparseable_tool_arguments_kept_raw(kit: ScenarioKit) -> None:
    call = ScriptedToolCall("call_x", "add", ('{"a": 1', ", "))  # cut off by max_tokens
    provider, _ = kit.serve(ScriptedReply(tool_calls=(call,), finish_reason="length"))
    outcome = await kit.call(provider, kit.request("add", tools=(ADD,)))
    expect(
        outcome.response.tool_calls,
        (ToolCall(id="call_x", name="add", arguments={}, raw_arguments='{"a": 1, '),),
        "tool call with raw arguments",
    )
    expect(outcome.response.finish_reason, "length", "finish reason")


@scenario()
async def tool_round_trip(kit: ScenarioKit) -> None:
    """The spec's "What's 17+25?" flow at the adapter level: text and a call, then text."""
    call = ScriptedToolCall("call_1", "add", ('{"a": 17, ', '"b": 25}'))
    provider, server = kit.serve(
        ScriptedReply(text=("Let me add those.",), tool_calls=(call,), finish_reason="tool_calls"),
        ScriptedReply(text=("The answer ", "is 42.")),
    )
    question = Message(role="user", content="What's 17+25?")
    first = await kit.call(provider, kit.request(question, tools=(ADD,)))
    expect(first.response.text, "Let me add those.", "text before the tool call")
    history = (
        question,
        Message(
            role="assistant", content=first.response.text, tool_calls=first.response.tool_calls
        ),
        Message(role="tool", content="42", tool_call_id="call_1", name="add"),
    )
    second = await kit.call(provider, kit.request(*history, tools=(ADD,)))
    expect(second.response.text, "The answer is 42.", "final answer")
    expect(second.response.finish_reason, "stop", "final finish reason")
    expect(server.last.messages, history, "history sent with the tool result")
    expect([sent.tools[0].name for sent in server.requests], ["add", "add"], "tools per call")


@scenario()
async def usage_counts_cached_and_reasoning_tokens(kit: ScenarioKit) -> None:
    usage = ScriptedUsage(
        input_tokens=1200, output_tokens=300, cached_input_tokens=1024, reasoning_tokens=120
    )
    provider, _ = kit.serve(ScriptedReply(text=("ok",), usage=usage))
    response = (await kit.call(provider, kit.request("hi"))).response
    counts = (
        response.input_tokens,
        response.output_tokens,
        response.cached_input_tokens,
        response.reasoning_tokens,
    )
    expect(counts, (1200, 300, 1024, 120), "input, output, cached and reasoning tokens")


@scenario(requires=("cache_write_tokens",))
async def cache_write_tokens_counted(kit: ScenarioKit) -> None:
    usage = ScriptedUsage(
        input_tokens=3000, output_tokens=20, cached_input_tokens=1000, cache_write_tokens=1500
    )
    provider, _ = kit.serve(ScriptedReply(text=("ok",), usage=usage))
    response = (await kit.call(provider, kit.request("hi"))).response
    counts = (response.input_tokens, response.cached_input_tokens, response.cache_write_tokens)
    expect(counts, (3000, 1000, 1500), "input, cache read and cache write tokens")


@scenario()
async def finish_reasons_normalised(kit: ScenarioKit) -> None:
    reasons: tuple[FinishReason, ...] = ("length", "content_filter", "other", "stop")
    provider, _ = kit.serve(
        *(ScriptedReply(text=("cut",), finish_reason=reason) for reason in reasons)
    )
    seen = [(await kit.call(provider, kit.request("hi"))).response.finish_reason for _ in reasons]
    expect(seen, list(reasons), "finish reasons")


@scenario()
async def escape_hatch_reaches_the_body(kit: ScenarioKit) -> None:
    options, path, expected = kit.wire.escape_hatch
    provider, server = kit.serve(ScriptedReply(text=("ok",)))
    await kit.call(provider, kit.request("hi", provider_options={kit.wire.name: options}))
    value: object = server.last.body
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    expect(value, expected, f"body field {path}")


@scenario(modes=("stream",))
async def early_close_releases_the_stream(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("one ", "two ", "three")))
    async with aclosing(provider.stream(kit.request("count"))) as stream:
        async for chunk in stream:
            expect(chunk.text, "one ", "first chunk")
            break
    expect((server.open_streams, server.closed_streams), (0, 1), "open and closed streams")


@scenario(modes=("stream",))
async def cancelled_stream_releases_the_connection(kit: ScenarioKit) -> None:
    provider, server = kit.serve(StalledStream(text=("first ",)))
    received: list[str] = []
    with anyio.fail_after(10):  # a stream that ignores cancellation fails here, not hangs
        with anyio.CancelScope() as scope:
            async with aclosing(provider.stream(kit.request("hi"))) as stream:
                async for chunk in stream:
                    received.append(chunk.text)
                    scope.cancel()  # the next read waits on a stalled server
    expect(received, ["first "], "chunks before the cancellation")
    expect((server.open_streams, server.closed_streams), (0, 1), "open and closed streams")


@scenario()
async def answers_through_the_aether_facade(kit: ScenarioKit) -> None:
    from aether.client import Aether

    provider, server = kit.serve(ScriptedReply(text=("The answer", " is 42.")))
    client = Aether(provider)
    if kit.mode == "complete":
        expect(await client.ask("What's 17+25?"), "The answer is 42.", "client.ask")
    else:
        deltas = [delta async for delta in client.stream_text("What's 17+25?")]
        expect(deltas, ["The answer", " is 42."], "client.stream_text deltas")
    expect(server.last.messages, (Message(role="user", content="What's 17+25?"),), "messages")
    expect(server.last.model, provider.default_model, "model sent")
    await client.aclose()
