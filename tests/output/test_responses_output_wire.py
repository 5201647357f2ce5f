"""Structured output on the OpenAI Responses API wire (``text.format``), through the SDK."""

from __future__ import annotations

import json

import pytest

from aether import OutputRefusedError
from aether.extensions.llm._output_schemas import strict_schema
from aether.extensions.llm._responses_wire import json_schema_format
from aether.llm.output import OutputSchema
from aether.testing.wire import ScriptedReply
from aether.testing.wires import OPENAI_RESPONSES_WIRE
from tests.output._models import Invoice, Point
from tests.output._wire_support import WAYS, Way, answer, text_reply, tool_reply

POINT = '{"x": 3, "y": 4}'


@pytest.mark.parametrize("way", WAYS)
async def test_native_sends_a_strict_text_format(way: Way) -> None:
    text = '{"customer": "Ada", "items": [], "paid": null, "note": null}'
    got, server = await answer(
        OPENAI_RESPONSES_WIRE, way, [text_reply(text)], model="gpt-5-mini", output_type=Invoice
    )
    assert got.output == Invoice(customer="Ada", items=[])
    assert got.mode == "native"
    schema, _ = strict_schema(OutputSchema.of(Invoice).json_schema)
    assert server.last.body["text"] == json_schema_format(
        schema, name="Invoice", strict=True, description="An invoice."
    )
    if way == "stream":
        assert got.partials[-1] == json.loads(text)


async def test_the_escape_hatch_text_options_join_the_format() -> None:
    _, server = await answer(
        OPENAI_RESPONSES_WIRE,
        "call",
        [text_reply(POINT)],
        model="gpt-5-mini",
        output_type=Point,
        provider_options={"openai-responses": {"text": {"verbosity": "low"}}},
    )
    assert server.last.body["text"]["verbosity"] == "low"
    assert server.last.body["text"]["format"]["name"] == "Point"


@pytest.mark.parametrize("way", WAYS)
async def test_tool_mode_forces_a_strict_function_and_streams_its_arguments(way: Way) -> None:
    got, server = await answer(
        OPENAI_RESPONSES_WIRE,
        way,
        [tool_reply(POINT)],
        model="gpt-5-mini",
        output_type=Point,
        output_mode="tool",
    )
    assert got.output == Point(3, 4)
    assert got.mode == "tool"
    body = server.last.body
    assert body["tools"] == [
        {
            "type": "function",
            "name": "final_result",
            "parameters": strict_schema(OutputSchema.of(Point).json_schema)[0],
            "strict": True,
            "description": "The final answer.",
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "final_result"}
    assert "text" not in body
    if way == "stream":
        assert got.text == POINT
        assert {"x": 3} in got.partials


@pytest.mark.parametrize("way", WAYS)
async def test_a_responses_refusal_raises(way: Way) -> None:
    with pytest.raises(OutputRefusedError) as caught:
        await answer(
            OPENAI_RESPONSES_WIRE,
            way,
            [ScriptedReply(refusal=("I can't ", "help.")), text_reply(POINT)],
            model="gpt-5-mini",
            output_type=Point,
        )
    assert caught.value.refusal == "I can't help."
