"""Malformed tool calls from the model never crash the tool loop.

Bad argument JSON, arguments that are not an object, an unknown tool, arguments of the
wrong types, a call with no id and a call with no name: each goes back to the model as
an error tool result it can act on, the loop carries on, and the turn ends with the
model's next answer. First through every wire format (the model's mistake on the wire,
parsed by the real adapter), then property-based, with any call a model could send.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether import Aether, LLMResponse
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import Message, ToolCall
from aether.testing.wire import MockServer, Mode, ScriptedReply, ScriptedToolCall, WireFormat
from aether.testing.wires import BUILTIN_WIRES

from ._support import MODEL, count_events, running_tasks, take_turn

pytestmark = pytest.mark.anyio

RECOVERY = ScriptedReply(text=("Sorry, ", "let me fix that."))


async def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@dataclass(frozen=True)
class Mistake:
    """A model's malformed call, and what the tool result sent back must say.

    ``says`` is ``None`` when the call is fine once Aether has filled in what it lacked.
    ``raw_text``: argument text that is not an object, which some wires cannot carry.
    """

    name: str
    call: ScriptedToolCall
    says: str | None
    raw_text: bool = False


def call(call_id: str, name: str, *arguments: str) -> ScriptedToolCall:
    return ScriptedToolCall(call_id, name, arguments)


MISTAKES = (
    Mistake("bad_json", call("call_1", "add", '{"a": 1', ', "b": '), "not valid JSON", True),
    Mistake("not_an_object", call("call_1", "add", "[17, 25]"), "not a JSON object", True),
    Mistake("unknown_tool", call("call_1", "subtract", '{"a": 1}'), "no tool named 'subtract'"),
    Mistake("wrong_types", call("call_1", "add", '{"a": "seventeen", "b": [25]}'), "valid integer"),
    Mistake("missing_argument", call("call_1", "add", '{"a": 17}'), "b: required, but not given"),
    Mistake(
        "extra_argument",
        call("call_1", "add", '{"a": 1, "b": 2, "c": 3}'),
        "c: not a parameter of this tool",
    ),
    Mistake("no_id", call("", "add", '{"a": 17, "b": 25}'), None),
    Mistake("no_name", call("call_1", "", '{"a": 17, "b": 25}'), "no tool named ''"),
    Mistake(
        "nested_too_deep",
        call("call_1", "add", "[" * 50_000, "]" * 50_000),
        "nested too deeply",
        True,
    ),
)

CASES = [
    pytest.param(mistake, wire, mode, id=f"{mistake.name}-{wire.name}-{mode}")
    for mistake in MISTAKES
    for wire in BUILTIN_WIRES
    for mode in ("complete", "stream")
    if not mistake.raw_text or wire.supports("raw_tool_arguments", mode)
]


@pytest.mark.parametrize(("mistake", "wire", "mode"), CASES)
async def test_malformed_call_on_the_wire_goes_back_to_the_model(
    mistake: Mistake, wire: WireFormat, mode: Mode
) -> None:
    tasks_before = running_tasks()
    asking = ScriptedReply(tool_calls=(mistake.call,), finish_reason="tool_calls")
    server = MockServer(wire, [asking, RECOVERY])
    async with Aether(wire.build_provider(server, default_model=MODEL)) as client:
        events = count_events(client)
        session = client.session("tools")
        answer = await take_turn(session, mode, "What's 17+25?", [], tools=[add])
        assert answer == "Sorry, let me fix that."
        assert [message.role for message in await session.history()] == ["user", "assistant"]
        assert len(server.requests) == 2
        if wire.name == "gemini" and not mistake.call.name:
            # Gemini cannot answer a call without a name (a function response names its
            # function): the adapter reads it as an unreadable response, and retry asks
            # the model again.
            assert server.last.messages == (Message(role="user", content="What's 17+25?"),)
            return
        *_, asked, result = server.last.messages
        assert result.role == "tool"
        if wire.name != "gemini":  # Gemini matches results to calls by name and order
            assert result.tool_call_id == asked.tool_calls[0].id != ""
        if mistake.says is None:
            assert result.content == "42"
        else:
            assert result.content.startswith("Error:")
            assert mistake.says in result.content
        assert (events["tool.start"], events["tool.error"]) == (1, int(mistake.says is not None))
    assert running_tasks() == tasks_before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
ANY_CALL = st.builds(
    ToolCall,
    id=st.sampled_from(["", "call_1"]) | st.text(max_size=8),  # missing, repeated, anything
    name=st.sampled_from(["add", "subtract", ""]) | st.text(max_size=10),
    arguments=st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=3)
    | st.fixed_dictionaries({"a": st.integers(), "b": st.integers()}),
    raw_arguments=st.none() | st.text(max_size=20),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    calls=st.lists(ANY_CALL, min_size=1, max_size=4), mode=st.sampled_from(["complete", "stream"])
)
async def test_any_tool_calls_a_model_sends_end_in_its_next_answer(
    calls: list[ToolCall], mode: Mode
) -> None:
    asking = LLMResponse(model="fake-model", tool_calls=tuple(calls), finish_reason="tool_calls")
    fake = FakeProvider(responses=[asking, "Sorry, let me fix that."])
    async with Aether(fake) as client:
        events = count_events(client)
        answer = await take_turn(client.session("any"), mode, "go", [], tools=[add])
    assert answer == "Sorry, let me fix that."
    sent = fake.requests[1].messages
    asked, results = sent[-len(calls) - 1], sent[-len(calls) :]
    assert [result.role for result in results] == ["tool"] * len(calls)
    assert [call.name for call in asked.tool_calls] == [call.name for call in calls]
    assert all(call.id for call in asked.tool_calls)
    assert [result.tool_call_id for result in results] == [call.id for call in asked.tool_calls]
    expected_errors = [call for call in calls if _fails(call)]
    assert events["tool.start"] == len(calls)
    assert events["tool.error"] == len(expected_errors)
    assert sum(result.content.startswith("Error:") for result in results) == len(expected_errors)


def _fails(call: ToolCall) -> bool:
    """Whether ``add`` cannot run ``call`` as sent."""
    if call.name != "add" or call.raw_arguments is not None:
        return True
    arguments = call.arguments
    return set(arguments) != {"a", "b"} or not all(
        isinstance(arguments[key], int) and not isinstance(arguments[key], bool) for key in "ab"
    )
