from __future__ import annotations

import pytest

from aether import Aether, register, register_tool
from aether.errors import ToolError
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import Tool
from aether.registry import registry
from aether.tools import TOOL_KIND, get_tool, list_tools, resolve_tools


def test_decorator_with_arguments_registers_and_returns_the_function() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    tool = get_tool("add")
    assert tool.description == "Add two numbers"
    assert tool.parameters["required"] == ["a", "b"]
    assert registry.find(TOOL_KIND, "add") is not None


def test_bare_decorator_uses_the_function_name_and_docstring() -> None:
    @register_tool
    async def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    assert get_tool("shout").description == "Upper-case a text."


def test_decorator_with_empty_parentheses_works() -> None:
    @register_tool()
    def ping() -> str:
        return "pong"

    assert get_tool("ping").parameters == {
        "additionalProperties": False,
        "properties": {},
        "type": "object",
    }


def test_name_can_be_chosen() -> None:
    @register_tool(name="sum_two")
    def add(a: int, b: int) -> int:
        return a + b

    assert get_tool("sum_two").name == "sum_two"


def test_duplicate_name_is_an_error_naming_both_functions() -> None:
    @register_tool(name="dup")
    def first() -> None: ...

    def second() -> None: ...

    with pytest.raises(ToolError) as caught:
        register_tool(name="dup")(second)
    message = str(caught.value)
    assert "test_duplicate_name_is_an_error_naming_both_functions.<locals>.first" in message
    assert "test_duplicate_name_is_an_error_naming_both_functions.<locals>.second" in message
    assert get_tool("dup").handler.function is first  # type: ignore[union-attr]


def test_replace_true_replaces_on_purpose() -> None:
    @register_tool(name="dup")
    def first() -> str:
        return "first"

    @register_tool(name="dup", replace=True)
    def second() -> str:
        return "second"

    assert get_tool("dup").handler.function is second  # type: ignore[union-attr]


def test_registering_the_same_function_twice_is_harmless() -> None:
    def tool() -> None: ...

    register_tool(tool)
    register_tool(tool)
    assert [t.name for t in list_tools()].count("tool") == 1


def test_unknown_tool_error_lists_the_registered_tools() -> None:
    @register_tool
    def alpha() -> None: ...

    @register_tool
    def beta() -> None: ...

    with pytest.raises(ToolError, match=r"unknown tool 'gamma'; registered tools: .*alpha, beta"):
        get_tool("gamma")


def test_list_tools_returns_tools_in_registration_order() -> None:
    @register_tool
    def zeta() -> None: ...

    @register_tool
    def alpha() -> None: ...

    listed = [tool.name for tool in list_tools()]
    assert listed.index("zeta") < listed.index("alpha")
    assert all(isinstance(tool, Tool) for tool in list_tools())


def test_generic_registry_registration_is_a_tool_too() -> None:
    @register("tool", "echo")
    def echo(text: str) -> str:
        return text

    assert get_tool("echo").parameters["properties"] == {"text": {"type": "string"}}


def test_resolve_mixes_names_functions_and_tool_objects() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    def unregistered(x: int) -> int:
        return x

    manual = Tool(name="manual", description="By hand.")
    resolved = resolve_tools(["add", add, unregistered, manual])
    assert [tool.name for tool in resolved] == ["add", "unregistered", "manual"]
    assert resolved[0] is get_tool("add")
    assert resolved[2] is manual


def test_unregistered_function_is_built_once_and_not_registered() -> None:
    def helper(x: int) -> int:
        return x

    assert resolve_tools([helper])[0] is resolve_tools([helper])[0]
    assert registry.find(TOOL_KIND, "helper") is None


def test_resolve_reports_every_unknown_name_at_once() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(ToolError, match=r"unknown tools 'nope', 'nada'; registered tools: .*add"):
        resolve_tools(["nope", "add", "nada"])


def test_two_different_tools_with_one_name_are_refused() -> None:
    with pytest.raises(ToolError, match="two different tools are named 'x'"):
        resolve_tools([Tool(name="x"), Tool(name="x", description="other")])


def test_something_that_is_not_a_tool_is_refused() -> None:
    with pytest.raises(ToolError, match="cannot use 42 as a tool"):
        resolve_tools([42])  # type: ignore[list-item]


async def test_unknown_tool_fails_before_anything_is_sent() -> None:
    fake = FakeProvider(canned_response="never")
    client = Aether(fake)
    with pytest.raises(ToolError, match="unknown tool 'missing'"):
        await client.ask("hi", tools=["missing"])
    assert fake.requests == []


async def test_request_carries_the_resolved_tools() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    fake = FakeProvider(canned_response="ok")
    client = Aether(fake)
    await client.ask("hi", tools=["add"])
    sent = fake.last_request.tools
    assert [(tool.name, tool.description) for tool in sent] == [("add", "Add two numbers")]


def test_tool_dump_and_repr_leave_the_handler_out() -> None:
    @register_tool
    def add(a: int, b: int) -> int:
        return a + b

    tool = get_tool("add")
    assert set(tool.model_dump()) == {"name", "description", "parameters"}
    assert "handler" not in repr(tool)
