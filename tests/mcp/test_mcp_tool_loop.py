"""MCP tools in the tool loop, end to end: a scripted model, a real server over stdio."""

from __future__ import annotations

from functools import partial

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import StatusCode

from aether import Aether, register_tool
from aether.errors import ToolError
from aether.events import Event, ToolComplete, ToolErrorEvent
from aether.extensions.llm.fake import FakeProvider, Script
from aether.llm.content import ImagePart
from aether.llm.contracts import LLMRequest, LLMResponse, ToolCall
from aether.mcp import MCPToolset
from tests.mcp._support import PNG, cancel_mid_call
from tests.telemetry._otel import Otel


def calls_then_reports(name: str, **arguments: object) -> FakeProvider:
    """A model that calls ``name`` once, then answers with what the tool returned."""

    def respond(request: LLMRequest) -> Script:
        results = [message for message in request.messages if message.role == "tool"]
        if not results:
            call = ToolCall(id="c1", name=name, arguments=arguments)
            return LLMResponse(text="Let me look. ", model="fake-model", tool_calls=[call])
        return f"The tool said: {results[-1].text.strip()}"

    return FakeProvider(responder=respond)


def record(client: Aether) -> list[Event]:
    events: list[Event] = []
    client.on("*", events.append)
    return events


async def test_a_streamed_tool_loop_answers_with_an_mcp_tools_result(
    stdio_files: MCPToolset,
) -> None:
    client = Aether(calls_then_reports("read_file", path="notes.txt"), tools=[stdio_files])
    events = record(client)

    chunks = [chunk async for chunk in client.stream("What do the notes say?")]

    text = "".join(chunk.text for chunk in chunks if chunk.kind == "text")
    assert text == "Let me look. The tool said: Aether is a middleware onion for LLM calls."
    results = [chunk.tool_result for chunk in chunks if chunk.tool_result is not None]
    assert [(result.name, result.is_error) for result in results] == [("read_file", False)]
    assert [event.name for event in events if event.name.startswith("tool.")] == [
        "tool.start",
        "tool.complete",
    ]
    complete = next(event for event in events if isinstance(event, ToolComplete))
    assert complete.result.text.startswith("Aether is a middleware onion")
    assert client.usage.total_requests == 2


async def test_mcp_tools_mix_with_registered_tools_on_a_call(stdio_files: MCPToolset) -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    fake = calls_then_reports("read_image", path="dot.png")
    client = Aether(fake)

    answer = await client.ask("Show me the dot.", tools=["add", stdio_files])

    offered = [tool.name for tool in fake.requests[0].tools]
    assert offered[0] == "add"
    assert "read_image" in offered
    image_turn = fake.requests[1].messages[-1]
    assert image_turn.role == "tool"
    assert isinstance(image_turn.content, tuple)
    assert isinstance(image_turn.content[0], ImagePart)
    assert image_turn.content[0].data == PNG
    assert answer == "The tool said: "  # an image has no text


async def test_an_is_error_result_fires_tool_error_with_the_servers_message(
    stdio_files: MCPToolset,
) -> None:
    client = Aether(calls_then_reports("fail", message="no such bucket"), tools=[stdio_files])
    events = record(client)

    answer = await client.ask("Try it.")

    assert answer == "The tool said: Error: Error executing tool fail: no such bucket"
    error = next(event for event in events if isinstance(event, ToolErrorEvent))
    assert isinstance(error.error, ToolError)
    assert error.result.is_error is True


async def test_cancelling_the_aether_call_cancels_the_tool_on_the_server(
    stdio_files: MCPToolset,
) -> None:
    client = Aether(calls_then_reports("slow", seconds=60), tools=[stdio_files])

    await cancel_mid_call(stdio_files, partial(client.ask, "Take your time."))


async def test_mcp_tool_calls_get_execute_tool_spans(stdio_files: MCPToolset) -> None:
    otel = Otel()
    fake = calls_then_reports("fail", message="no such bucket")
    client = Aether(fake, tools=[stdio_files], telemetry=otel.middleware())

    await client.ask("Try it.")

    span = otel.one("execute_tool fail")
    found = dict(span.attributes or {})
    assert found[gen_ai.GEN_AI_TOOL_NAME] == "fail"
    assert found[gen_ai.GEN_AI_TOOL_CALL_ID] == "c1"
    assert span.status.status_code is StatusCode.ERROR
    assert (span.status.description or "").startswith("ToolError: Error executing tool fail")
