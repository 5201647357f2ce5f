"""``Aether(tools=[...])``: tools every call offers, and toolsets the client starts."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import pytest
from _tool_helpers import asks, call, says

from aether import Aether, register_tool
from aether.errors import ConfigurationError, ToolError
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import Tool
from aether.tools import Toolset, resolve_tools


@pytest.fixture(autouse=True)
def registered() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    @register_tool(description="Multiply two numbers")
    def multiply(a: int, b: int) -> int:
        return a * b


class RecordingToolset:
    """A toolset that offers one tool once started, and records its lifecycle."""

    def __init__(self, name: str, log: list[str], *, fails: bool = False) -> None:
        self.name = name
        self.log = log
        self.fails = fails
        self.started = False

    def current_tools(self) -> Sequence[Tool]:
        if not self.started:
            raise ToolError(f"{self.name} is not started")
        return [Tool(name=self.name, description="From a toolset", handler=self.run)]

    async def run(self, arguments: dict[str, object]) -> str:
        return f"{self.name} ran"

    async def __aenter__(self) -> RecordingToolset:
        if self.fails:
            raise ToolError(f"{self.name} could not start")
        self.started = True
        self.log.append(f"start {self.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.started = False
        self.log.append(f"stop {self.name}")


def offered(fake: FakeProvider, index: int = 0) -> list[str]:
    return [tool.name for tool in fake.requests[index].tools]


async def test_the_clients_tools_are_offered_on_every_call() -> None:
    fake = FakeProvider(canned_response="ok")
    client = Aether(fake, tools=["add"])

    await client.ask("one")
    await client.ask("two", temperature=0.2)

    assert offered(fake, 0) == offered(fake, 1) == ["add"]


async def test_a_calls_tools_join_the_clients_after_them() -> None:
    def shout(text: str) -> str:
        return text.upper()

    fake = FakeProvider(canned_response="ok")
    client = Aether(fake, tools=["add"])

    await client.ask("hi", tools=["multiply", shout])

    assert offered(fake) == ["add", "multiply", "shout"]


async def test_a_calls_tool_replaces_the_clients_tool_of_the_same_name() -> None:
    def add(a: int, b: int) -> int:
        return a - b  # the call's own "add"

    fake = FakeProvider(responses=[asks(call("add", a=5, b=3)), says("done")])
    client = Aether(fake, tools=["add", "multiply"])

    await client.ask("hi", tools=[add])

    assert offered(fake) == ["multiply", "add"]
    assert fake.requests[1].messages[-1].content == "2"


async def test_tool_choice_none_keeps_a_call_from_the_clients_tools() -> None:
    fake = FakeProvider(canned_response="ok")
    client = Aether(fake, tools=["add"])

    await client.ask("hi", tool_choice="none")
    request = client.request("hi", tool_choice="add")

    assert fake.requests[0].tool_choice == "none"
    assert request.tool_choice == "add"


def test_a_ready_made_request_keeps_its_own_tools() -> None:
    client = Aether(FakeProvider(canned_response="ok"), tools=["add"])
    ready = Aether(FakeProvider(canned_response="ok")).request("hi", tools=["multiply"])

    assert [tool.name for tool in client.request(ready).tools] == ["multiply"]


def test_unknown_names_and_a_bare_string_fail_when_the_client_is_built() -> None:
    with pytest.raises(ToolError, match=r"unknown tool 'sub'"):
        Aether(FakeProvider(canned_response="ok"), tools=["add", "sub"])
    with pytest.raises(ConfigurationError, match=r"tools= takes a list of tools"):
        Aether(FakeProvider(canned_response="ok"), tools="add")  # type: ignore[arg-type]


async def test_async_with_client_starts_and_stops_its_toolsets_in_order() -> None:
    log: list[str] = []
    first, second = RecordingToolset("first", log), RecordingToolset("second", log)
    fake = FakeProvider(responses=[asks(call("second")), says("done")])
    client = Aether(fake, tools=["add", first, second])

    async with client:
        answer = await client.ask("go")
        log.append("body")

    assert answer == "done"
    assert offered(fake) == ["add", "first", "second"]
    assert fake.requests[1].messages[-1].content == "second ran"
    assert log == ["start first", "start second", "body", "stop second", "stop first"]


async def test_a_toolset_that_fails_to_start_stops_the_ones_started() -> None:
    log: list[str] = []
    client = Aether(
        FakeProvider(canned_response="ok"),
        tools=[RecordingToolset("first", log), RecordingToolset("broken", log, fails=True)],
    )

    with pytest.raises(ToolError, match="broken could not start"):
        async with client:
            log.append("body")

    assert log == ["start first", "stop first"]


async def test_a_toolset_not_started_fails_the_call_before_sending() -> None:
    fake = FakeProvider(canned_response="ok")
    client = Aether(fake, tools=[RecordingToolset("lazy", [])])

    with pytest.raises(ToolError, match="lazy is not started"):
        await client.ask("hi")
    assert fake.requests == []


def test_a_toolset_is_a_toolset_and_must_come_in_a_list() -> None:
    toolset = RecordingToolset("one", [])

    assert isinstance(toolset, Toolset)
    with pytest.raises(ToolError, match=r"takes a list of tools, not a single one"):
        resolve_tools(toolset)  # type: ignore[arg-type]
