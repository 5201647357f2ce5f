"""The Responses wire format of `aether.testing` is OpenAI's: the SDK's own models accept it.

The openai SDK's pydantic models are generated from OpenAI's API specification; the
adapter never uses them (it reads the JSON itself), so validating what the mock server
sends against them, strictly, is what keeps the mock honest.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from aether.testing.wire import MockServer, ScriptedReply, ScriptedToolCall, StreamErrorEvent
from aether.testing.wires import OPENAI_RESPONSES_WIRE

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
CALLS = (
    ScriptedToolCall("call_a", "weather", ('{"city": ', '"Paris"}')),
    ScriptedToolCall("call_b", "weather", ('{"city": "Oslo"}',)),
)
REPLIES = [
    ScriptedReply(text=("Hello", " there")),
    ScriptedReply(text=("Let me check.",), tool_calls=CALLS, finish_reason="tool_calls"),
    *(
        ScriptedReply(text=("cut",), finish_reason=reason)
        for reason in ("length", "content_filter", "other")
    ),
]


def _payloads(frames: list[bytes]) -> list[dict[str, Any]]:
    payloads = []
    for frame in frames:
        event, data = frame.decode().strip().split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert event == f"event: {payload['type']}"
        payloads.append(payload)
    return payloads


@pytest.mark.parametrize("reply", REPLIES, ids=lambda reply: reply.finish_reason)
def test_a_body_is_a_valid_response(reply: ScriptedReply) -> None:
    response = Response.model_validate(OPENAI_RESPONSES_WIRE.body(reply))
    assert response.output_text == "".join(reply.text)
    assert [item.type for item in response.output] == ["message"] + ["function_call"] * len(
        reply.tool_calls
    )


@pytest.mark.parametrize("reply", REPLIES, ids=lambda reply: reply.finish_reason)
def test_every_stream_event_is_a_valid_event_numbered_in_order(reply: ScriptedReply) -> None:
    payloads = _payloads(OPENAI_RESPONSES_WIRE.events(reply))
    for payload in payloads:
        EVENTS.validate_python(payload)
    assert [payload["sequence_number"] for payload in payloads] == list(range(len(payloads)))
    incomplete = reply.finish_reason in ("length", "content_filter", "other")
    terminal = "response.incomplete" if incomplete else "response.completed"
    assert payloads[-1]["type"] == terminal
    assert [payload["response"]["usage"] for payload in payloads if "response" in payload][:-1] == [
        None,
        None,
    ]  # usage comes only with the terminal event


def test_an_error_event_is_a_valid_error_event() -> None:
    server = MockServer(OPENAI_RESPONSES_WIRE)
    response = OPENAI_RESPONSES_WIRE.render(
        StreamErrorEvent(text=("Hel",), message="Overloaded"), stream=True, server=server
    )
    frames = list(response.stream._events)
    error = _payloads(frames)[-1]
    EVENTS.validate_python(error)
    assert (error["type"], error["message"]) == ("error", "Overloaded")
