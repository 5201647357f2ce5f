"""Tools that return more than text: images, documents, parts mixed with text."""

from __future__ import annotations

import pytest
from _tool_helpers import asks, call, record, says

from aether import (
    Aether,
    DocumentPart,
    ImagePart,
    ReasoningPart,
    TextPart,
    ToolResult,
)
from aether.extensions.llm.fake import FakeProvider
from aether.tools import dispatch_tool, tool_content, tool_from_function

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
CHART = ImagePart(data=PNG)


def test_an_image_part_becomes_the_content() -> None:
    assert tool_content(CHART) == (CHART,)


def test_a_list_of_parts_text_and_data_becomes_parts_in_order() -> None:
    content = tool_content(["the chart", CHART, {"width": 2}])
    assert content == (TextPart(text="the chart"), CHART, TextPart(text='{"width":2}'))


def test_a_list_without_parts_is_still_json() -> None:
    assert tool_content(["a", "b"]) == '["a","b"]'


def test_a_tool_result_gives_its_content() -> None:
    returned = ToolResult(call_id="ignored", name="ignored", content=("see", CHART))
    assert tool_content(returned) == (TextPart(text="see"), CHART)


async def test_a_tool_returning_an_image_answers_with_it() -> None:
    async def snapshot() -> list[object]:
        return ["Here it is:", CHART]

    result = await dispatch_tool("snapshot", {}, tools=[tool_from_function(snapshot)])
    assert result == ToolResult(
        call_id="call_snapshot", name="snapshot", content=(TextPart(text="Here it is:"), CHART)
    )
    assert result.text == "Here it is:"


async def test_a_tool_result_returned_by_the_tool_keeps_its_content_under_the_calls_id() -> None:
    async def lookup() -> ToolResult:
        return ToolResult(call_id="x", name="y", content="not found", is_error=True)

    result = await dispatch_tool("lookup", {}, tools=[tool_from_function(lookup)])
    assert result == ToolResult(
        call_id="call_lookup", name="lookup", content="not found", is_error=True
    )


@pytest.mark.parametrize(
    "value",
    [ReasoningPart(text="hmm", signature="s"), ["text", ReasoningPart(text="hmm")]],
    ids=["alone", "in-a-list"],
)
async def test_a_tool_cannot_return_reasoning(value: object) -> None:
    async def sneaky() -> object:
        return value

    result = await dispatch_tool("sneaky", {}, tools=[tool_from_function(sneaky)])
    assert result.is_error
    assert result.content == (
        "Error: a tool cannot return a ReasoningPart: return text, data, or TextPart, "
        "ImagePart, AudioPart and DocumentPart"
    )


async def test_the_tool_loop_sends_the_parts_back_to_the_model() -> None:
    report = DocumentPart(data=b"%PDF-1.7\n" + bytes(16), name="q3.pdf")

    async def fetch_report() -> list[object]:
        return ["Q3 report", report]

    fake = FakeProvider(responses=[asks(call("fetch_report")), says("Revenue grew.")])
    client = Aether(fake)
    events = record(client)
    answer = await client.ask("How did Q3 go?", tools=[fetch_report])
    assert answer == "Revenue grew."
    tool_turn = fake.requests[1].messages[-1]
    assert (tool_turn.role, tool_turn.content) == ("tool", (TextPart(text="Q3 report"), report))
    completed = [event for event in events if event.name == "tool.complete"]
    assert completed[0].result.content == (TextPart(text="Q3 report"), report)  # type: ignore[attr-defined]


async def test_the_unscripted_fake_describes_a_tool_result_with_parts() -> None:
    async def snapshot(label: str) -> list[object]:
        return [label, CHART]

    client = Aether(FakeProvider())
    answer = await client.ask("chart", tools=[snapshot])
    assert answer == "The snapshot tool returned 'chart' and an image (image/png, 72 bytes)."
