"""The suite's scenarios for content beyond text: parts out, reasoning in and back.

Each media part kind is its own scenario: on a wire that takes it, what the server
decodes is the part that was sent; on one that does not, the call fails with
`BadRequestError` before any request leaves. The features a wire declares (see
`WireFormat.supports`): ``image``, ``image_url``, ``audio``, ``audio_url``,
``document``, ``document_url``, ``video``, ``document_name``, ``tool_result_media``,
``reasoning_signature``, ``redacted_reasoning``, ``reasoning_round_trip``,
``media_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aether.errors import BadRequestError
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    Tool,
    ToolCall,
)
from aether.testing.provider_suite import SCENARIOS, Scenario, ScenarioKit, expect, scenario
from aether.testing.wire import (
    ScriptedReasoning,
    ScriptedReply,
    ScriptedToolCall,
    ScriptedUsage,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16)
PDF = b"%PDF-1.7\n% scripted\n"
MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(12)

MEDIA_PARTS: tuple[tuple[str, ImagePart | AudioPart | DocumentPart], ...] = (
    ("image", ImagePart(data=PNG)),
    ("image_url", ImagePart(url="https://example.com/cat.png")),
    ("audio", AudioPart(data=WAV)),
    ("audio_url", AudioPart(url="https://example.com/clip.mp3")),
    ("document", DocumentPart(data=PDF, name="report.pdf")),
    ("document_url", DocumentPart(url="https://example.com/report.pdf")),
    ("video", DocumentPart(data=MP4)),
)
"""Each media part kind, under the feature name a wire declares it by."""

SIGNATURE = "RXFVc2NyaXB0ZWQtc2lnbmF0dXJl"
CALL_SIGNATURE = "Y2FsbC1zaWduYXR1cmU="

LOOKUP = Tool(
    name="lookup",
    description="Look a word up.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}},
)


def _sent_part(kit: ScenarioKit, part: Part) -> Part:
    """``part`` as the server reads it back (a wire without document names drops them)."""
    if isinstance(part, DocumentPart) and not kit.supports("document_name"):
        return part.model_copy(update={"name": None})
    return part


def _media_scenario(
    feature: str, part: ImagePart | AudioPart | DocumentPart
) -> Callable[[ScenarioKit], Coroutine[Any, Any, None]]:
    async def run(kit: ScenarioKit) -> None:
        provider, server = kit.serve(ScriptedReply(text=("A picture of a cat.",)))
        request = kit.request(Message(role="user", content=("Describe this:", part)))
        if not kit.supports(feature):
            error, _ = await kit.call_failing(provider, request, BadRequestError)
            expect(len(server.requests), 0, f"requests sent with {feature}")
            named = type(part).__name__ in str(error) and kit.wire.name in str(error)
            expect(named, True, "the error names the provider and the part")
            return
        outcome = await kit.call(provider, request)
        expect(outcome.response.text, "A picture of a cat.", "answer")
        content = (TextPart(text="Describe this:"), _sent_part(kit, part))
        expect(server.last.messages, (Message(role="user", content=content),), "parts sent")

    return run


for _feature, _part in MEDIA_PARTS:
    SCENARIOS.append(Scenario(f"user_{_feature}_part", _media_scenario(_feature, _part)))


@scenario(requires=("tool_result_media",))
async def tool_result_with_an_image(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("It is a bar chart.",)))
    call = ToolCall(id="call_1", name="lookup", arguments={"word": "chart"})
    history = (
        Message(role="user", content="Show me the chart."),
        Message(role="assistant", tool_calls=(call,)),
        Message(
            role="tool",
            content=("Here it is:", ImagePart(data=PNG)),
            tool_call_id="call_1",
            name="lookup",
        ),
    )
    await kit.call(provider, kit.request(*history, tools=(LOOKUP,)))
    expect(server.last.messages, history, "history with the tool's image")


@scenario()
async def developer_message_is_an_instruction(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("Bonjour.",)))
    await kit.call(
        provider,
        kit.request(Message(role="developer", content="Answer in French."), "Hello"),
    )
    expect(server.last.system, "Answer in French.", "instructions sent")
    expect(server.last.messages, (Message(role="user", content="Hello"),), "messages sent")


@scenario()
async def reasoning_parsed_apart_from_the_answer(kit: ScenarioKit) -> None:
    reasoning = ScriptedReasoning(text=("Let me ", "think."), signature=SIGNATURE)
    provider, _ = kit.serve(ScriptedReply(reasoning=(reasoning,), text=("The answer", " is 42.")))
    outcome = await kit.call(provider, kit.request("What's 17+25?"))
    response = outcome.response
    expect(response.text, "The answer is 42.", "answer text (no reasoning in it)")
    expect(response.reasoning, "Let me think.", "reasoning text")
    thoughts = [part for part in response.parts if isinstance(part, ReasoningPart)]
    signed = kit.supports("reasoning_signature")
    expect(
        [part.signature for part in thoughts if part.signature],
        [SIGNATURE] if signed else [],
        "the signature",
    )
    expect({part.provider for part in thoughts}, {kit.wire.name}, "the reasoning's provider")
    expect(response.parts[-1], TextPart(text="The answer is 42."), "the answer, last")
    if kit.mode == "stream":
        expect(outcome.reasoning_deltas, ["Let me ", "think."], "reasoning deltas")
        expect(outcome.text_deltas, ["The answer", " is 42."], "text deltas")
        kinds = [chunk.kind for chunk in outcome.chunks[:-1]]
        expect(kinds, ["reasoning", "reasoning", "text", "text"], "reasoning before the text")


@scenario()
async def reasoning_goes_back_with_the_tool_results(kit: ScenarioKit) -> None:
    reasoning = ScriptedReasoning(text=("I should look ", "it up."), signature=SIGNATURE)
    call = ScriptedToolCall("call_7", "lookup", ('{"word": "aether"}',), signature=CALL_SIGNATURE)
    provider, server = kit.serve(
        ScriptedReply(reasoning=(reasoning,), tool_calls=(call,), finish_reason="tool_calls"),
        ScriptedReply(text=("It is the upper air.",)),
    )
    question = Message(role="user", content="What is aether?")
    first = (await kit.call(provider, kit.request(question, tools=(LOOKUP,)))).response
    turn = first.message
    expect(bool(turn.parts), True, "the assistant turn carries its reasoning")
    result = Message(role="tool", content="the upper air", tool_call_id="call_7", name="lookup")
    await kit.call(provider, kit.request(question, turn, result, tools=(LOOKUP,)))
    if not kit.supports("reasoning_round_trip"):
        turn = Message(role="assistant", content=first.text, tool_calls=turn.tool_calls)
    expect(server.last.messages, (question, turn, result), "the turn sent back exactly")


@scenario(requires=("redacted_reasoning",))
async def redacted_reasoning_goes_back_as_it_came(kit: ScenarioKit) -> None:
    hidden = ScriptedReasoning(signature="ZW5jcnlwdGVkLXRoaW5raW5n", redacted=True)
    provider, server = kit.serve(
        ScriptedReply(reasoning=(hidden,), text=("Done.",)), ScriptedReply(text=("ok",))
    )
    first = (await kit.call(provider, kit.request("Think hard."))).response
    expected = ReasoningPart(signature=hidden.signature, redacted=True, provider=kit.wire.name)
    expect(first.parts, (expected, TextPart(text="Done.")), "redacted reasoning and answer")
    history = (
        Message(role="user", content="Think hard."),
        first.message,
        Message(role="user", content="More."),
    )
    await kit.call(provider, kit.request(*history))
    expect(server.last.messages, history, "history sent back")


@scenario()
async def another_providers_reasoning_is_not_sent(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("ok",)))
    foreign = (
        ReasoningPart(text="secret thoughts", signature="c2lnbmF0dXJl", provider="elsewhere"),
        ProviderPart(provider="elsewhere", kind="web_search_call", data={"id": "ws_1"}),
        TextPart(text="Hi there."),
    )
    history = (
        Message(role="user", content="Hello"),
        Message(role="assistant", content=foreign),
        Message(role="user", content="And now?"),
    )
    await kit.call(provider, kit.request(*history))
    expect(
        server.last.messages[1],
        Message(role="assistant", content="Hi there."),
        "the assistant turn, without the other provider's parts",
    )


@scenario(requires=("media_tokens",))
async def media_token_counts_reported(kit: ScenarioKit) -> None:
    usage = ScriptedUsage(
        input_tokens=1500,
        output_tokens=80,
        input_image_tokens=600,
        input_audio_tokens=200,
        output_audio_tokens=30,
    )
    provider, _ = kit.serve(ScriptedReply(text=("ok",), usage=usage))
    tokens = (await kit.call(provider, kit.request("hi"))).response.tokens
    counts = (tokens.input, tokens.output, tokens.input_image, tokens.input_audio)
    expect(counts, (1500, 80, 600, 200), "input, output, image and audio tokens")
    expect(tokens.output_audio, 30, "output audio tokens")
