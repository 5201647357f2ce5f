"""Structured output on the Gemini API wire, through the google-genai SDK."""

from __future__ import annotations

import pytest

from aether import OutputRefusedError
from aether.extensions.llm._output_schemas import gemini_schema
from aether.llm.output import OutputSchema
from aether.testing.wire import ScriptedReply
from aether.testing.wires import GEMINI_WIRE
from tests.output._models import Pet, Point
from tests.output._wire_support import WAYS, Way, answer, text_reply, tool_reply

POINT = '{"x": 3, "y": 4}'


@pytest.mark.parametrize("way", WAYS)
async def test_native_sends_a_json_mime_type_and_response_json_schema(way: Way) -> None:
    got, server = await answer(
        GEMINI_WIRE,
        way,
        [text_reply('{"pet": {"kind": "dog", "barks": 2}, "name": "Rex"}')],
        model="gemini-2.5-flash",
        output_type=Pet,
    )
    assert got.mode == "native"
    assert got.output is not None
    assert got.output.pet.kind == "dog"
    config = server.last.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == gemini_schema(OutputSchema.of(Pet).json_schema)
    assert "tools" not in server.last.body
    if way == "stream":
        assert got.partials[-1] == {"pet": {"kind": "dog", "barks": 2}, "name": "Rex"}


@pytest.mark.parametrize("way", WAYS)
async def test_with_tools_before_gemini_3_the_answer_comes_through_a_forced_function(
    way: Way,
) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    got, server = await answer(
        GEMINI_WIRE,
        way,
        [tool_reply('{"a": 1, "b": 2}', name="add"), tool_reply(POINT)],
        model="gemini-2.5-flash",
        output_type=Point,
        tools=[add],
    )
    assert got.output == Point(3, 4)
    assert got.mode == "tool"
    first, second = server.requests
    assert [tool.name for tool in first.tools] == ["add", "final_result"]
    assert first.body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert "responseMimeType" not in first.body.get("generationConfig", {})
    declaration = first.body["tools"][0]["functionDeclarations"][1]
    # The SDK writes this field's proto name (the API reads either spelling).
    assert declaration["parameters_json_schema"] == gemini_schema(
        OutputSchema.of(Point).json_schema
    )
    assert second.messages[-1].role == "tool"
    if way == "stream":
        assert got.text.endswith('{"x":3,"y":4}')  # whole, on the final chunk


async def test_gemini_3_keeps_native_output_beside_tools() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    got, server = await answer(
        GEMINI_WIRE,
        "call",
        [text_reply(POINT)],
        model="gemini-3-pro-preview",
        output_type=Point,
        tools=[add],
    )
    assert got.mode == "native"
    assert server.last.body["generationConfig"]["responseMimeType"] == "application/json"
    assert "toolConfig" not in server.last.body


@pytest.mark.parametrize("way", WAYS)
async def test_tool_mode_alone_forces_the_output_function(way: Way) -> None:
    got, server = await answer(
        GEMINI_WIRE,
        way,
        [tool_reply(POINT)],
        model="gemini-2.5-flash",
        output_type=Point,
        output_mode="tool",
    )
    assert got.output == Point(3, 4)
    assert server.last.body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["final_result"]}
    }


@pytest.mark.parametrize("way", WAYS)
async def test_a_safety_stop_is_a_refusal(way: Way) -> None:
    with pytest.raises(OutputRefusedError):
        await answer(
            GEMINI_WIRE,
            way,
            [ScriptedReply(refusal=("Blocked.",)), text_reply(POINT)],
            model="gemini-2.5-flash",
            output_type=Point,
        )
