"""What the Fake provider answers when nothing is scripted: deterministic, tool-aware, and
able to say what media it received."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from aether.extensions.llm._fake_output import sample_value
from aether.llm._estimate import media_tokens
from aether.llm.contracts import (
    AudioPart,
    Content,
    DocumentPart,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    ProviderPart,
    TextPart,
    TokenCounts,
    Tool,
    ToolCall,
)

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def prompt_tokens(messages: Iterable[Message], *, output: int) -> TokenCounts:
    """Deterministic counts: a token per word of text, and each media part's estimate
    (`aether.llm._estimate`), images and audio counted apart as well."""
    words = image = audio = other = 0
    for message in messages:
        words += len(message.text.split())
        if isinstance(message.content, str):
            continue
        for part in message.content:
            tokens = media_tokens(part)
            if isinstance(part, ImagePart):
                image += tokens
            elif isinstance(part, AudioPart):
                audio += tokens
            else:
                other += tokens
    return TokenCounts(
        input=words + image + audio + other, input_image=image, input_audio=audio, output=output
    )


def describe_part(part: Part) -> str:
    """``an image (image/png, 1,024 bytes)``: a part's kind, media type and size."""
    if isinstance(part, TextPart):
        return repr(part.text)
    if isinstance(part, ImagePart | AudioPart | DocumentPart):
        kind = {"image": "an image", "audio": "an audio clip"}.get(part.type, "a document")
        if isinstance(part, DocumentPart) and part.name:
            kind += f" {part.name!r}"
        where = f"{part.size:,} bytes" if part.size is not None else f"from {part.url}"
        return f"{kind} ({part.media_type or 'unknown type'}, {where})"
    if isinstance(part, ProviderPart):
        return f"a {part.provider} {part.kind} block"
    return f"reasoning ({len(part.text):,} characters)"


def describe(content: Content) -> str:
    """Text quoted, parts described, joined as a sentence would join them."""
    if isinstance(content, str):
        return content
    items = [describe_part(part) for part in content]
    if len(items) < 2:
        return "".join(items) or "nothing"
    return ", ".join(items[:-1]) + " and " + items[-1]


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


def _structured(
    request: LLMRequest, *, model: str, provider: str, output_tool: str | None
) -> LLMResponse | str:
    """A schema-valid answer: JSON text, or in tool mode a call to the output tool."""
    assert request.output is not None
    value = sample_value(request.output.json_schema)
    if output_tool is None:
        return json.dumps(value, ensure_ascii=False)
    return LLMResponse(
        text="",
        model=model,
        tokens=prompt_tokens(request.messages, output=len(json.dumps(value).split())),
        tool_calls=(ToolCall(id="fake-answer", name=output_tool, arguments=value),),
        finish_reason="tool_calls",
        provider=provider,
    )


def default_reply(
    request: LLMRequest, *, model: str, provider: str, output_tool: str | None = None
) -> LLMResponse | str:
    """The unscripted answer to ``request``.

    With tools offered and no tool result yet, it calls the first tool (arguments drawn
    from the prompt); after a tool result, it reports what the tool returned (or, asked
    for a structured answer, gives one); otherwise it quotes the prompt and says how to
    reach a real model, or gives the structured answer asked for.
    """
    user = _last(request.messages, "user")
    prompt = user.text if user is not None else ""
    last = request.messages[-1] if request.messages else None
    tools = [tool for tool in request.tools if tool.name != output_tool]
    if request.output is not None and (
        (last is not None and last.role == "tool") or not tools or request.tool_choice == "none"
    ):
        return _structured(request, model=model, provider=provider, output_tool=output_tool)
    if last is not None and last.role == "tool":
        return f"The {last.name or 'tool'} tool returned {describe(last.content)}."
    if tools and request.tool_choice != "none":
        tool = next((item for item in tools if item.name == request.tool_choice), tools[0])
        text = f"Let me use {tool.name}."
        return LLMResponse(
            text=text,
            model=model,
            tokens=prompt_tokens(request.messages, output=len(text.split())),
            tool_calls=(
                ToolCall(id="fake-call-1", name=tool.name, arguments=_arguments(tool, prompt)),
            ),
            finish_reason="tool_calls",
            provider=provider,
        )
    media = [part for part in (user.parts if user is not None else ()) if part.type != "text"]
    received = f" It received {describe(tuple(media))}." if media else ""
    return (
        f"This is Aether's fake provider answering {prompt!r}.{received} Set LLM_PROVIDER "
        f"and an API key to talk to a real model."
    )
