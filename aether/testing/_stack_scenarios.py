"""The suite's scenarios through the whole default stack: the tool loop, usage and cost."""

from __future__ import annotations

from aether.llm.contracts import Message
from aether.testing.provider_suite import ScenarioKit, expect, scenario
from aether.testing.wire import (
    ScriptedReasoning,
    ScriptedReply,
    ScriptedToolCall,
    ScriptedUsage,
)


@scenario()
async def spec_tool_example_through_the_tool_loop(kit: ScenarioKit) -> None:
    """The spec's ``tools=["add"]`` example: one logical answer, the tool run in between."""
    from aether.client import Aether
    from aether.registry import registry
    from aether.tools import register_tool

    call = ScriptedToolCall("call_1", "add", ('{"a": 17', ', "b": 25}'))
    provider, server = kit.serve(
        ScriptedReply(
            text=("Let me ", "add those."), tool_calls=(call,), finish_reason="tool_calls"
        ),
        ScriptedReply(text=("The answer ", "is 42.")),
    )
    with registry.scoped():

        @register_tool(description="Add two numbers")
        def add(a: int, b: int) -> int:
            return a + b

        async with Aether(provider) as client:
            if kit.mode == "complete":
                answer = await client.ask("What's 17+25?", tools=["add"])
                expect(answer, "The answer is 42.", "client.ask's final text")
            else:
                kinds: list[str] = []
                text: list[str] = []
                async for chunk in client.stream("What's 17+25?", tools=["add"]):
                    kinds.append("final" if chunk.is_final else chunk.kind)
                    text.append(chunk.text)
                expect("".join(text), "Let me add those.The answer is 42.", "one logical stream")
                expect(
                    [
                        kind
                        for index, kind in enumerate(kinds)
                        if kinds[index - 1 : index] != [kind]
                    ],
                    ["text", "tool_call", "tool_result", "text", "final"],
                    "chunk kinds in order",
                )
    expect(len(server.requests), 2, "model calls")
    expect(
        server.last.messages[-1],
        Message(role="tool", content="42", tool_call_id="call_1", name="add"),
        "tool result sent back",
    )


@scenario()
async def usage_and_cost_through_the_default_stack(kit: ScenarioKit) -> None:
    """Tokens reach ``client.usage`` and the price is the price library's own figure."""
    from genai_prices import Usage as LibraryUsage
    from genai_prices import calc_price

    from aether.client import Aether

    model = kit.serve()[0].default_model  # the adapter's default: a model with a price
    usage = ScriptedUsage(input_tokens=2000, output_tokens=300, cached_input_tokens=1024)
    provider, _ = kit.serve(ScriptedReply(text=("ok",), model=model, usage=usage))
    async with Aether(provider) as client:
        if kit.mode == "complete":
            cost = (await client.complete("hi")).cost_usd
        else:
            chunks = [chunk async for chunk in client.stream("hi")]
            cost = chunks[-1].cost_usd
        totals = client.usage
        expect(
            (totals.total_requests, totals.total_input_tokens, totals.total_output_tokens),
            (1, 2000, 300),
            "requests and tokens in client.usage",
        )
        expect(totals.total_cached_input_tokens, 1024, "cached input tokens in client.usage")
    provider_id = {"gemini": "google", "openai-responses": "openai"}.get(
        provider.name, provider.name
    )
    library = LibraryUsage(input_tokens=2000, cache_read_tokens=1024, output_tokens=300)
    expected = float(calc_price(library, model, provider_id=provider_id).total_price)
    expect(cost, expected, f"the price of {model} with cached tokens")
    expect(totals.total_cost_usd, expected, "client.usage total cost")


@scenario()
async def reasoning_round_trips_through_the_tool_loop(kit: ScenarioKit) -> None:
    """Thinking, a tool call, the tool, the answer: the second request carries the first
    turn's reasoning and signatures back (where the wire takes them), and a stream shows
    reasoning, tool call, tool result and text in that order."""
    from aether.client import Aether
    from aether.llm.contracts import ReasoningPart, Tool

    async def lookup(arguments: dict[str, object]) -> str:
        return f"{arguments['word']}: the upper air"

    tool = Tool(
        name="lookup",
        parameters={"type": "object", "properties": {"word": {"type": "string"}}},
        handler=lookup,
    )
    signature = "c2NyaXB0ZWQtdGhpbmtpbmc="
    thinking = ScriptedReasoning(text=("I should ", "look it up."), signature=signature)
    call = ScriptedToolCall("call_1", "lookup", ('{"word": "aether"}',), signature=signature)
    provider, server = kit.serve(
        ScriptedReply(reasoning=(thinking,), tool_calls=(call,), finish_reason="tool_calls"),
        ScriptedReply(text=("It means ", "the upper air.")),
    )
    async with Aether(provider) as client:
        if kit.mode == "complete":
            response = await client.complete("What is aether?", tools=[tool])
            expect(response.text, "It means the upper air.", "the final answer")
        else:
            kinds: list[str] = []
            async for chunk in client.stream("What is aether?", tools=[tool]):
                kind = "final" if chunk.is_final else chunk.kind
                if not kinds or kinds[-1] != kind:
                    kinds.append(kind)
            expect(
                kinds,
                ["reasoning", "tool_call", "tool_result", "text", "final"],
                "chunk kinds in order",
            )
    expect(len(server.requests), 2, "model calls")
    turn = server.last.messages[1]
    sent = [part for part in turn.parts if isinstance(part, ReasoningPart)]
    if kit.supports("reasoning_round_trip"):
        expect("".join(part.text for part in sent), "I should look it up.", "reasoning sent back")
        expect([p.signature for p in sent if p.signature], [signature], "signature sent back")
    else:
        expect(sent, [], "reasoning sent back (the wire has no place for it)")
    expect(
        [(c.id, c.signature) for c in turn.tool_calls],
        [("call_1", signature if kit.wire.name == "gemini" else None)],
        "the tool call, with its signature where the wire has one",
    )
