"""Helpers shared by the tool tests: scripted responses and an event recorder."""

from __future__ import annotations

from typing import Any

from aether import Aether
from aether.events import Event
from aether.llm.contracts import LLMResponse, ToolCall


def call(name: str, call_id: str = "c1", /, **arguments: Any) -> ToolCall:
    """A tool call the scripted model makes."""
    return ToolCall(id=call_id, name=name, arguments=arguments)


def asks(*calls: ToolCall, text: str = "", tokens: tuple[int, int] = (1, 1)) -> LLMResponse:
    """A scripted response that asks for ``calls`` (after saying ``text``)."""
    return LLMResponse(
        text=text,
        model="fake-model",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        tool_calls=calls,
        finish_reason="tool_calls",
    )


def says(text: str, tokens: tuple[int, int] = (1, 1)) -> LLMResponse:
    """A scripted final text answer."""
    return LLMResponse(
        text=text, model="fake-model", input_tokens=tokens[0], output_tokens=tokens[1]
    )


def record(client: Aether) -> list[Event]:
    """Every event the client emits, in order."""
    events: list[Event] = []
    client.on("*", events.append)
    return events


def names(events: list[Event]) -> list[str]:
    return [event.name for event in events]
