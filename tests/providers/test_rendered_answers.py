"""`render_answer` renders the bytes `MockServer` serves, so servers that pre-render an
answer once (the benchmark mock server) serve the tests' own wire format, not a copy."""

from __future__ import annotations

import pytest

from aether.testing.wire import (
    MockServer,
    ScriptedReasoning,
    ScriptedReply,
    ScriptedToolCall,
    ScriptedUsage,
)
from aether.testing.wires import BUILTIN_WIRES, AnswerWire, render_answer

REPLIES = [
    ScriptedReply(text=("once ", "upon"), model="m-1", usage=ScriptedUsage(9, 2)),
    ScriptedReply(
        text=("Let me check.",),
        tool_calls=(ScriptedToolCall("call_a", "weather", ('{"city": ', '"Paris"}')),),
        finish_reason="tool_calls",
        reasoning=(ScriptedReasoning(text=("hm",), signature="c2ln"),),
    ),
    ScriptedReply(refusal=("I can't",)),  # a refusal, sent as text where no field has it
]


async def _served(wire: AnswerWire, reply: ScriptedReply, *, stream: bool) -> bytes:
    server = MockServer(wire)  # type: ignore[arg-type]
    response = server.wire.render(reply, stream=stream, server=server)
    if not stream:
        return bytes(response.content)
    pieces = [piece async for piece in response.stream]
    await response.stream.aclose()
    assert server.open_streams == 0
    return b"".join(pieces)


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@pytest.mark.parametrize("reply", REPLIES, ids=("text", "calls", "refusal"))
async def test_rendered_answer_is_what_the_mock_server_serves(
    wire: AnswerWire, reply: ScriptedReply
) -> None:
    rendered = render_answer(wire, reply)
    assert rendered.body == await _served(wire, reply, stream=False)
    assert b"".join(rendered.events) == await _served(wire, reply, stream=True)
    assert len(rendered.events) >= 2  # one frame per event, not the stream in one piece
