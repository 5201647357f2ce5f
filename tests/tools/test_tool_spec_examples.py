"""The spec's and README's tool examples, run with the Fake provider scripting the calls."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from _tool_helpers import asks, call, says

from aether import Aether, register_tool
from aether.events import TOOL_ERROR, ToolErrorEvent
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMResponse, ToolCall
from aether.tools import get_tool


async def test_register_tool_then_ask_runs_the_loop_and_returns_the_final_text() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    client = Aether(FakeProvider(responses=[asks(call("add", a=17, b=25)), says("17 + 25 = 42.")]))
    answer = await client.ask("What is 17 + 25?", tools=["add"])
    assert answer == "17 + 25 = 42."


async def test_streaming_with_tools_is_one_logical_stream() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    client = Aether(
        FakeProvider(
            responses=[
                asks(call("add", a=17, b=25), text="Let me add those."),
                says("The answer is 42."),
            ]
        )
    )
    starts, completes = [], []
    client.on("stream.start", starts.append)
    client.on("stream.complete", completes.append)
    deltas = []
    async for delta in client.stream_text("What's 17+25?", tools=["add"]):
        deltas.append(delta)
    assert "".join(deltas) == "Let me add those.The answer is 42."
    assert (len(starts), len(completes)) == (1, 1)


def test_docstring_args_reach_the_schema_verbatim() -> None:
    @register_tool(description="Look up a customer by ID")
    def get_customer(customer_id: str) -> dict[str, str]:
        """
        Args:
            customer_id: Internal customer ID (UUID).
        """
        return {"id": customer_id, "name": "..."}

    tool = get_tool("get_customer")
    assert tool.description == "Look up a customer by ID"
    assert tool.parameters["properties"]["customer_id"]["description"] == (
        "Internal customer ID (UUID)."
    )


async def test_registered_tool_is_available_in_any_complete_call() -> None:
    @register_tool(description="Look up a customer by ID")
    def get_customer(customer_id: str) -> dict[str, str]:
        return {"id": customer_id, "name": "Ada"}

    fake = FakeProvider(responses=[asks(call("get_customer", customer_id="u-1")), says("Ada.")])
    response = await Aether(fake).complete("Who is u-1?", tools=["get_customer"])
    assert response.text == "Ada."
    assert response.tool_messages[-1].content == '{"id":"u-1","name":"Ada"}'


async def test_scripted_fake_from_the_testing_section() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    fake = FakeProvider(
        responses=[
            LLMResponse(
                text="",
                model="...",
                input_tokens=1,
                output_tokens=1,
                tool_calls=[ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})],
            ),
            LLMResponse(text="The answer is 5.", model="...", input_tokens=1, output_tokens=1),
        ]
    )
    client = Aether(fake)
    assert await client.ask("What is 2 + 3?", tools=["add"]) == "The answer is 5."
    assert fake.requests[1].messages[-1].content == "5"


async def test_tool_error_event_example_receives_the_call_and_the_error() -> None:
    @register_tool
    def lookup(key: str) -> str:
        raise KeyError(key)

    client = Aether(FakeProvider(responses=[asks(call("lookup", key="k")), says("Not found.")]))
    alerts: list[str] = []

    async def send_alert(text: str) -> None:
        alerts.append(text)

    @client.on(TOOL_ERROR)
    async def alert(event: ToolErrorEvent) -> None:
        await send_alert(f"Tool {event.call.name} failed: {event.error}")

    assert await client.ask("look up k", tools=["lookup"]) == "Not found."
    assert alerts == ["Tool lookup failed: 'k'"]


def test_importing_the_reference_package_registers_the_three_tools() -> None:
    code = (
        "import aether, sys\n"
        "from aether.tools import list_tools\n"
        "assert 'aether.extensions.tools' not in sys.modules\n"
        "before = [t.name for t in list_tools()]\n"
        "import aether.extensions.tools\n"
        "print(before, sorted(t.name for t in list_tools()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[] ['get_current_time', 'http_get', 'read_file']"


@pytest.mark.parametrize(
    "module",
    [
        "aether.tools",
        "aether.tools.registry",
        "aether.tools.schema",
        "aether.middleware.tool_loop",
        "aether.extensions.tools",
        "aether.extensions.tools.file",
        "aether.extensions.tools.http",
        "aether.extensions.tools.time",
    ],
)
def test_public_tool_modules_export_a_sorted_existing_all(module: str) -> None:
    loaded = importlib.import_module(module)
    exported = list(loaded.__all__)
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical.
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert all(hasattr(loaded, name) for name in exported)


def test_register_tool_is_exported_from_the_package() -> None:
    import aether

    assert aether.register_tool is register_tool
    assert "register_tool" in aether.__all__
