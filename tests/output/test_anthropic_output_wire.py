"""Structured output on the Anthropic Messages wire, through the anthropic SDK."""

from __future__ import annotations

import pytest

from aether import OutputRefusedError
from aether.extensions.llm._output_schemas import anthropic_schema
from aether.llm.output import OutputSchema
from aether.testing.wire import ScriptedReply
from aether.testing.wires import ANTHROPIC_WIRE
from tests.output._models import Invoice, Node, Point
from tests.output._wire_support import WAYS, Way, answer, text_reply, tool_reply

POINT = '{"x": 3, "y": 4}'


@pytest.mark.parametrize("way", WAYS)
async def test_native_sends_output_config_format_without_a_beta_header(way: Way) -> None:
    got, server = await answer(
        ANTHROPIC_WIRE,
        way,
        [text_reply('{"customer": "Ada", "items": []}')],
        model="claude-sonnet-4-5",
        output_type=Invoice,
    )
    assert got.output == Invoice(customer="Ada", items=[])
    assert got.mode == "native"
    assert server.last.body["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": anthropic_schema(OutputSchema.of(Invoice).json_schema)[0],
        }
    }
    assert "tools" not in server.last.body
    assert "anthropic-beta" not in server.last.headers


async def test_native_keeps_the_effort_reasoning_sets() -> None:
    _, server = await answer(
        ANTHROPIC_WIRE,
        "call",
        [text_reply(POINT)],
        model="claude-opus-4-6",
        output_type=Point,
        reasoning="low",
    )
    config = server.last.body["output_config"]
    assert config["effort"] == "low"
    assert config["format"]["type"] == "json_schema"


@pytest.mark.parametrize("way", WAYS)
async def test_an_older_model_gets_a_forced_output_tool_and_streams_its_input(way: Way) -> None:
    got, server = await answer(
        ANTHROPIC_WIRE, way, [tool_reply(POINT)], model="claude-3-5-haiku-latest", output_type=Point
    )
    assert got.output == Point(3, 4)
    assert got.mode == "tool"
    body = server.last.body
    assert body["tools"] == [
        {
            "name": "final_result",
            "description": "The final answer.",
            "input_schema": OutputSchema.of(Point).json_schema,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "final_result"}
    assert "output_config" not in body
    if way == "stream":
        assert got.text == POINT
        assert got.partials[-1] == {"x": 3, "y": 4}


async def test_a_recursive_model_goes_in_tool_mode_even_on_a_current_model() -> None:
    got, server = await answer(
        ANTHROPIC_WIRE,
        "call",
        [tool_reply('{"value": 1, "children": [{"value": 2}]}')],
        model="claude-sonnet-4-5",
        output_type=Node,
    )
    assert got.mode == "tool"
    assert got.output == Node(value=1, children=[Node(value=2)])
    assert "output_config" not in server.last.body
    assert server.last.body["tool_choice"] == {"type": "tool", "name": "final_result"}


@pytest.mark.parametrize("way", WAYS)
async def test_with_thinking_on_the_output_tool_is_offered_not_forced(way: Way) -> None:
    got, server = await answer(
        ANTHROPIC_WIRE,
        way,
        [tool_reply(POINT)],
        model="claude-sonnet-4-20250514",
        output_type=Point,
        reasoning=2048,
    )
    assert got.output == Point(3, 4)
    body = server.last.body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "tool_choice" not in body  # a forced tool with thinking: the API refuses it
    assert "calling the final_result tool" in body["system"]


async def test_thinking_from_the_escape_hatch_also_keeps_the_tool_unforced() -> None:
    _, server = await answer(
        ANTHROPIC_WIRE,
        "call",
        [tool_reply(POINT)],
        model="claude-3-7-sonnet-latest",
        output_type=Point,
        provider_options={"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}},
    )
    assert "tool_choice" not in server.last.body


@pytest.mark.parametrize("way", WAYS)
async def test_tools_of_yours_make_the_model_call_one_of_them_or_the_answer(way: Way) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    got, server = await answer(
        ANTHROPIC_WIRE,
        way,
        [tool_reply('{"a": 1, "b": 2}', name="add"), tool_reply('{"x": 3, "y": 0}')],
        model="claude-3-5-haiku-latest",
        output_type=Point,
        tools=[add],
    )
    assert got.output == Point(3, 0)
    first, second = server.requests
    assert [tool.name for tool in first.tools] == ["add", "final_result"]
    assert first.body["tool_choice"] == {"type": "any"}
    assert second.body["tool_choice"] == {"type": "any"}
    assert second.messages[-1].role == "tool"


@pytest.mark.parametrize("way", WAYS)
async def test_a_claude_refusal_raises_and_is_not_asked_again(way: Way) -> None:
    with pytest.raises(OutputRefusedError, match="refused"):
        await answer(
            ANTHROPIC_WIRE,
            way,
            [ScriptedReply(refusal=("I can't help with that.",)), text_reply(POINT)],
            model="claude-sonnet-4-5",
            output_type=Point,
        )
