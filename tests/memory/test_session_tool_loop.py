"""Sessions with the real tool loop: internal tool turns never reach the stored history."""

from __future__ import annotations

import pytest

from aether import Aether, register_tool
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMRequest, LLMResponse, Message, ToolCall

ADD_CALL = ToolCall(id="c1", name="add", arguments={"a": 17, "b": 25})


@pytest.fixture(autouse=True)
def _add_tool() -> None:
    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b


def scripted() -> FakeProvider:
    return FakeProvider(
        responses=[
            LLMResponse(
                text="Let me add those. ",
                model="fake-model",
                tool_calls=(ADD_CALL,),
                finish_reason="tool_calls",
            ),
            LLMResponse(text="The answer is 42.", model="fake-model"),
            "You asked me to add.",
        ]
    )


def roles(request: LLMRequest) -> list[str]:
    return [message.role for message in request.messages]


EXPECTED_HISTORY = [
    Message(role="system", content="Be brief."),
    Message(role="user", content="What's 17+25?"),
    Message(role="assistant", content="The answer is 42."),
]


async def test_asked_tool_turn_keeps_only_the_final_text() -> None:
    fake = scripted()
    session = Aether(fake).session("s", system="Be brief.")
    assert await session.ask("What's 17+25?", tools=["add"]) == "The answer is 42."
    assert roles(fake.requests[1]) == ["system", "user", "assistant", "tool"]
    assert fake.requests[1].messages[-1].content == "42"
    assert await session.history() == EXPECTED_HISTORY
    await session.ask("What did I ask?")
    assert roles(fake.last_request) == ["system", "user", "assistant", "user"]


async def test_streamed_tool_turn_keeps_only_the_final_text() -> None:
    fake = scripted()
    session = Aether(fake).session("s", system="Be brief.")
    kinds = [chunk.kind async for chunk in session.stream("What's 17+25?", tools=["add"])]
    assert "tool_call" in kinds
    assert "tool_result" in kinds
    assert await session.history() == EXPECTED_HISTORY
    await session.ask("What did I ask?")
    assert roles(fake.last_request) == ["system", "user", "assistant", "user"]
