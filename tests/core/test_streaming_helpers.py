"""Stream helpers: splitting, the final chunk, accumulating a stream into a response."""

from __future__ import annotations

import pytest

from aether import LLMResponse, StreamChunk, ToolCall
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
