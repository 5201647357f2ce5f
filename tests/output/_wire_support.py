"""Helpers for the structured-output wire tests: one answer, by call or by stream."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal

from aether import Aether
from aether.testing.wire import MockServer, ScriptedReply, ScriptedToolCall, WireFormat

Way = Literal["call", "stream"]
WAYS: tuple[Way, ...] = ("call", "stream")


@dataclass
class Answer:
    """What one structured call or stream gave back."""

    output: Any
    mode: str | None
    text: str
    partials: list[Any] = field(default_factory=list)


def text_reply(text: str, *, pieces: int = 3) -> ScriptedReply:
    """A reply streaming ``text`` in a few deltas."""
    step = max(1, len(text) // pieces)
    return ScriptedReply(text=tuple(text[i : i + step] for i in range(0, len(text), step)))


def tool_reply(arguments: str, *, name: str = "final_result", pieces: int = 3) -> ScriptedReply:
    """A reply calling ``name`` with ``arguments`` streamed in a few fragments."""
    step = max(1, len(arguments) // pieces)
    fragments = tuple(arguments[i : i + step] for i in range(0, len(arguments), step))
    return ScriptedReply(
        tool_calls=(ScriptedToolCall(id="call_out", name=name, arguments=fragments),),
        finish_reason="tool_calls",
    )


async def answer(
    wire: WireFormat, way: Way, script: list[Any], *, model: str, **options: Any
) -> tuple[Answer, MockServer]:
    """Ask once, the given way, through the real SDK against ``script``."""
    server = MockServer(wire, script)
    client = Aether(wire.build_provider(server, default_model=model))
    try:
        if way == "call":
            response = await client.complete("Answer, please.", **options)
            return Answer(response.output, response.output_mode, response.text), server
        partials = []
        texts = []
        async with contextlib.aclosing(client.stream("Answer, please.", **options)) as chunks:
            async for chunk in chunks:
                texts.append(chunk.text)
                if chunk.kind == "text" and chunk.text:
                    partials.append(chunk.partial)
                final = chunk
        return Answer(final.output, final.output_mode, "".join(texts), partials), server
    finally:
        await client.aclose()
