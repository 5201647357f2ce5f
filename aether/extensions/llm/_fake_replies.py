"""What the Fake provider answers when nothing is scripted: deterministic, tool-aware."""

from __future__ import annotations

import re
from typing import Any

from aether.llm.contracts import LLMRequest, LLMResponse, Message, TokenCounts, Tool, ToolCall

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _last(messages: tuple[Message, ...], role: str) -> Message | None:
    return next((message for message in reversed(messages) if message.role == role), None)


def _arguments(tool: Tool, prompt: str) -> dict[str, Any]:
    """Arguments for ``tool`` from its schema: numbers in the prompt fill numeric fields
    in order, the prompt fills text fields, and other required fields get a neutral value."""
    properties: dict[str, Any] = tool.parameters.get("properties", {})
    required = set(tool.parameters.get("required", ()))
    numbers = iter(_NUMBER.findall(prompt))
    arguments: dict[str, Any] = {}
    for name, schema in properties.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        if kind in ("integer", "number"):
            found = next(numbers, "0")
            value = float(found)
            arguments[name] = int(value) if kind == "integer" else value
        elif kind == "string":
            arguments[name] = prompt
        elif name in required:
            neutral: dict[str, Any] = {"boolean": False, "array": [], "object": {}}
            arguments[name] = neutral.get(str(kind))
    return arguments


def default_reply(request: LLMRequest, *, model: str, provider: str) -> LLMResponse | str:
    """The unscripted answer to ``request``.

    With tools offered and no tool result yet, it calls the first tool (arguments drawn
    from the prompt); after a tool result, it reports what the tool returned; otherwise it
    quotes the prompt and says how to reach a real model.
    """
    user = _last(request.messages, "user")
    prompt = user.text if user is not None else ""
    last = request.messages[-1] if request.messages else None
    if last is not None and last.role == "tool":
        return f"The {last.name or 'tool'} tool returned {last.content}."
    if request.tools and request.tool_choice != "none":
        tool = next(
            (item for item in request.tools if item.name == request.tool_choice),
            request.tools[0],
        )
        text = f"Let me use {tool.name}."
        return LLMResponse(
            text=text,
            model=model,
            tokens=TokenCounts(input=len(prompt.split()), output=len(text.split())),
            tool_calls=(
                ToolCall(id="fake-call-1", name=tool.name, arguments=_arguments(tool, prompt)),
            ),
            finish_reason="tool_calls",
            provider=provider,
        )
    return (
        f"This is Aether's fake provider answering {prompt!r}. Set LLM_PROVIDER "
        f"and an API key to talk to a real model."
    )
