"""Stream helpers: splitting, the final chunk, accumulating a stream into a response."""

from __future__ import annotations

import pytest

from aether import (
    ImagePart,
    LLMResponse,
    ProviderPart,
    ReasoningPart,
    StreamChunk,
    TextPart,
    TokenCounts,
    ToolCall,
)
from aether.llm.ask import ask
from aether.llm.streaming import StreamAccumulator, final_chunk, split_text, stream_response


@pytest.mark.parametrize("text", ["", "one", "  lead and trail  ", "a\nb\tc  d", "x " * 7])
def test_split_text_joins_back(text: str) -> None:
    assert "".join(split_text(text, 2)) == text


async def test_accumulated_stream_equals_the_response() -> None:
    call = ToolCall(id="c", name="t", arguments={"x": 1})
    response = LLMResponse(
        text="some text here",
        model="m",
        input_tokens=4,
        output_tokens=3,
        cached_input_tokens=2,
        reasoning_tokens=1,
        tool_calls=(call,),
        finish_reason="tool_calls",
        provider="p",
    )
    accumulator = StreamAccumulator()
    async for chunk in stream_response(response, words_per_chunk=1):
        accumulator.add(chunk)
    assert accumulator.response() == response


async def test_a_response_with_reasoning_streams_it_as_reasoning_chunks_in_order() -> None:
    parts = (
        ReasoningPart(text="First, think.", signature="sig-1", provider="anthropic"),
        TextPart(text="Let me check."),
        ProviderPart(provider="anthropic", kind="server_tool_use", data={"id": "s1"}),
        ReasoningPart(text="Now it is clear.", signature="sig-2", provider="anthropic"),
        TextPart(text=" The answer is 42."),
    )
    response = LLMResponse(
        text="Let me check. The answer is 42.",
        model="m",
        parts=parts,
        tokens=TokenCounts(input=9, output=30, reasoning=12),
    )
    chunks = [chunk async for chunk in stream_response(response)]
    assert [(chunk.kind, chunk.text, chunk.reasoning) for chunk in chunks[:-1]] == [
        ("reasoning", "", "First, think."),
        ("text", "Let me check.", ""),
        ("reasoning", "", "Now it is clear."),
        ("text", " The answer is 42.", ""),
    ]
    assert chunks[-1].parts == parts
    assert chunks[-1].tokens == response.tokens
    accumulator = StreamAccumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    assert accumulator.reasoning == "First, think.Now it is clear."
    assert accumulator.response() == response


def test_reasoning_deltas_become_parts_when_the_final_chunk_has_none() -> None:
    accumulator = StreamAccumulator()
    for chunk in (
        StreamChunk(text="Hm"),
        StreamChunk(kind="reasoning", reasoning="think "),
        StreamChunk(kind="reasoning", reasoning="more"),
        StreamChunk(text="Done"),
        StreamChunk(text="."),
        StreamChunk(kind="reasoning", reasoning="check"),
        StreamChunk(finish_reason="stop", model="m"),
    ):
        accumulator.add(chunk)
    response = accumulator.response()
    assert response.parts == (
        TextPart(text="Hm"),
        ReasoningPart(text="think more"),
        TextPart(text="Done."),
        ReasoningPart(text="check"),
    )
    assert (response.text, response.reasoning) == ("HmDone.", "think morecheck")
    assert response.tokens == TokenCounts()


def test_a_text_only_stream_accumulates_no_parts() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(StreamChunk(text="plain"))
    accumulator.add(StreamChunk(finish_reason="stop", model="m"))
    assert accumulator.response().parts == ()


def test_the_final_chunk_carries_the_parts_and_the_token_counts() -> None:
    image = ImagePart(url="https://example.com/cat.png")
    response = LLMResponse(
        text="a cat", model="m", parts=(image, TextPart(text="a cat")),
        tokens=TokenCounts(input=5, output=2, input_image=3),
    )  # fmt: skip
    chunk = final_chunk(response)
    assert (chunk.parts, chunk.tokens) == (response.parts, response.tokens)


def test_final_chunk_is_final_and_textless() -> None:
    chunk = final_chunk(LLMResponse(text="abc", model="m", output_tokens=1))
    assert chunk.is_final
    assert chunk.text == ""
    assert not StreamChunk(text="x").is_final


def test_accumulator_without_final_chunk_has_no_finish_reason() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(StreamChunk(text="partial"))
    response = accumulator.response("m")
    assert (response.text, response.finish_reason, response.model) == ("partial", None, "m")


async def test_one_shot_ask_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    assert "'hi'" in await ask("hi")
