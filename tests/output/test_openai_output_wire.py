"""Structured output on the OpenAI chat-completions wire, through the openai SDK."""

from __future__ import annotations

import json

import pytest

from aether import Aether, OutputRefusedError, OutputValidationError
from aether.extensions.llm._output_schemas import strict_schema
from aether.extensions.llm.openai import OpenAIProvider
from aether.llm.output import OutputSchema
from aether.testing.wire import MockServer, ScriptedReply, ScriptedToolCall
from aether.testing.wires import OPENAI_WIRE
from aether.testing.wires._http import mock_transport
from tests.output._models import Invoice, Point
from tests.output._wire_support import WAYS, Way, answer, text_reply, tool_reply

POINT = '{"x": 3, "y": 4}'
INVOICE = '{"customer": "Ada", "items": [], "paid": null, "note": null}'


@pytest.mark.parametrize("way", WAYS)
async def test_native_sends_a_strict_json_schema_response_format(way: Way) -> None:
    got, server = await answer(
        OPENAI_WIRE, way, [text_reply(INVOICE)], model="gpt-4o-mini", output_type=Invoice
    )
    assert got.output == Invoice(customer="Ada", items=[])  # nulls: the defaults
    assert got.mode == "native"
    schema, _ = strict_schema(OutputSchema.of(Invoice).json_schema)
    assert server.last.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Invoice",
            "schema": schema,
            "strict": True,
            "description": "An invoice.",
        },
    }
    assert "tools" not in server.last.body
    if way == "stream":
        assert got.partials[-1] == json.loads(INVOICE)


@pytest.mark.parametrize("way", WAYS)
async def test_a_schema_strict_mode_cannot_take_goes_as_it_is(way: Way) -> None:
    schema = {
        "type": "object",
        "properties": {"scores": {"type": "object", "additionalProperties": {"type": "integer"}}},
        "required": ["scores"],
    }
    got, server = await answer(
        OPENAI_WIRE, way, [text_reply('{"scores": {"a": 1}}')], model="gpt-4o", output_type=schema
    )
    assert got.output == {"scores": {"a": 1}}
    sent = server.last.body["response_format"]["json_schema"]
    assert sent["strict"] is False
    assert sent["schema"] == schema


@pytest.mark.parametrize("way", WAYS)
async def test_tool_mode_forces_a_strict_output_tool_and_streams_its_arguments(way: Way) -> None:
    got, server = await answer(
        OPENAI_WIRE,
        way,
        [tool_reply(POINT)],
        model="gpt-4o-mini",
        output_type=Point,
        output_mode="tool",
    )
    assert got.output == Point(3, 4)
    assert got.mode == "tool"
    body = server.last.body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "final_result",
                "parameters": strict_schema(OutputSchema.of(Point).json_schema)[0],
                "description": "The final answer.",
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "final_result"}}
    assert "response_format" not in body
    if way == "stream":
        assert got.text == POINT  # the arguments, streamed as the answer's text
        assert got.partials[-1] == {"x": 3, "y": 4}
        assert {"x": 3} in got.partials


async def test_auto_picks_tool_mode_for_a_model_without_json_schema() -> None:
    got, server = await answer(
        OPENAI_WIRE, "call", [tool_reply(POINT)], model="gpt-4-turbo", output_type=Point
    )
    assert got.mode == "tool"
    assert got.output == Point(3, 4)
    assert server.last.body["tools"][0]["function"]["name"] == "final_result"


@pytest.mark.parametrize("way", WAYS)
async def test_prompted_mode_puts_the_schema_in_the_instructions(way: Way) -> None:
    got, server = await answer(
        OPENAI_WIRE,
        way,
        [text_reply("```json\n" + POINT + "\n```")],
        model="llama3.2",
        output_type=Point,
        output_mode="prompted",
    )
    assert got.output == Point(3, 4)
    assert got.mode == "prompted"
    body = server.last.body
    assert "response_format" not in body
    first = body["messages"][0]
    assert first["role"] == "system"
    assert '"required":["x","y"]' in first["content"]
    assert body["messages"][1] == {"role": "user", "content": "Answer, please."}


@pytest.mark.parametrize("way", WAYS)
async def test_tools_of_yours_go_with_the_response_format(way: Way) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    got, server = await answer(
        OPENAI_WIRE,
        way,
        [tool_reply('{"a": 1, "b": 2}', name="add"), text_reply('{"x": 3, "y": 0}')],
        model="gpt-4o-mini",
        output_type=Point,
        tools=[add],
    )
    assert got.output == Point(3, 0)
    first, second = server.requests
    assert [tool.name for tool in first.tools] == ["add"]
    assert "response_format" in first.body
    assert second.messages[-1].role == "tool"


@pytest.mark.parametrize("way", WAYS)
async def test_an_openai_refusal_raises_and_is_not_asked_again(way: Way) -> None:
    refusal = ScriptedReply(refusal=("I'm sorry, ", "I can't help with that."))
    with pytest.raises(OutputRefusedError) as caught:
        await answer(
            OPENAI_WIRE,
            way,
            [refusal, text_reply(POINT)],
            model="gpt-4o-mini",
            output_type=Point,
        )
    assert caught.value.refusal == "I'm sorry, I can't help with that."


@pytest.mark.parametrize("way", WAYS)
async def test_an_invalid_answer_on_the_wire_is_asked_again(way: Way) -> None:
    got, server = await answer(
        OPENAI_WIRE,
        way,
        [text_reply('{"x": "three", "y": 4}'), text_reply(POINT)],
        model="gpt-4o-mini",
        output_type=Point,
    )
    assert got.output == Point(3, 4)
    resent = server.last.body["messages"]
    assert resent[-2] == {"role": "assistant", "content": '{"x": "three", "y": 4}'}
    assert "x: Input should be a valid integer" in resent[-1]["content"]


@pytest.mark.parametrize("way", WAYS)
async def test_tool_arguments_cut_by_max_tokens_are_not_asked_again(way: Way) -> None:
    cut = ScriptedReply(
        tool_calls=(ScriptedToolCall(id="c", name="final_result", arguments=('{"x": 3,',)),),
        finish_reason="length",
    )
    with pytest.raises(OutputValidationError, match="max_tokens") as caught:
        await answer(
            OPENAI_WIRE,
            way,
            [cut, tool_reply(POINT)],
            model="gpt-4o-mini",
            output_type=Point,
            output_mode="tool",
        )
    assert caught.value.text == '{"x": 3,'
    assert len(caught.value.attempts) == 1


async def test_an_adapter_not_declaring_structured_output_gets_it_in_the_instructions() -> None:
    # What an SDK adapter without its own structured output gets (say, a new wire).
    class PlainChat(OpenAIProvider):
        structured_output = False

    server = MockServer(OPENAI_WIRE, [text_reply(POINT)])
    provider = PlainChat(api_key=OPENAI_WIRE.api_key, transport=mock_transport(server))
    async with Aether(provider) as client:
        response = await client.complete("Where?", output_type=Point)
    assert response.output == Point(3, 4)
    assert response.output_mode == "prompted"
    assert "response_format" not in server.last.body
    assert '"required":["x","y"]' in server.last.body["messages"][0]["content"]
