"""Answers rendered once to bytes, for a server that sends the same answer many times.

`MockServer` renders each scripted answer per request, which a test can afford. A
server measured next to the client it serves (the benchmark mock server,
`benchmarks.mock_openai_server`) cannot: it renders an answer once with
`render_answer` and sends the same bytes on every request. The bytes are the wire
formats' own (`OpenAIWire`, `OpenAIResponsesWire`, `AnthropicWire`, `GeminiWire`), so
tests and benchmarks serve one wire implementation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from aether.testing.wire import ScriptedReply

__all__ = ["AnswerWire", "RenderedAnswer", "render_answer"]


class AnswerWire(Protocol):
    """A wire format that renders a successful answer on its own, with no server."""

    def body(self, reply: ScriptedReply) -> dict[str, Any]:
        """The JSON body of a call answering with ``reply``."""
        ...

    def events(self, reply: ScriptedReply) -> list[bytes]:
        """The SSE frames of a stream answering with ``reply``."""
        ...


@dataclass(frozen=True, slots=True)
class RenderedAnswer:
    """One answer as bytes: the JSON body of a call, and the SSE frames of a stream."""

    body: bytes
    events: tuple[bytes, ...]


def render_answer(wire: AnswerWire, reply: ScriptedReply) -> RenderedAnswer:
    """Render ``reply`` in ``wire``'s format once, as a call's body and a stream's frames."""
    return RenderedAnswer(json.dumps(wire.body(reply)).encode(), tuple(wire.events(reply)))
