"""The body of ``POST /responses`` for an `LLMRequest` (before the escape hatch).

What differs from chat completions: ``max_output_tokens`` (reasoning tokens included),
``reasoning: {"effort", "summary"}``, function tools at the top level of each tool
entry and not strict (Aether's schemas are not written for strict mode), no stop
sequences at all, and the conversation state: ``store`` and, for reasoning models in
the stateless state, ``include: ["reasoning.encrypted_content"]`` so that the
reasoning comes back in a form the next request can carry.

`json_schema_format` builds the ``text.format`` structured output (``output_type=``)
sends in native mode; the escape hatch can send one too
(``provider_options={"openai-responses": {"text": json_schema_format(...)}}``).
"""

from __future__ import annotations

from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._openai_wire import reasoning_effort
from aether.extensions.llm._responses_input import conversation
from aether.llm.contracts import LLMRequest, Tool

__all__ = [
    "ENCRYPTED_REASONING",
    "build_body",
    "json_schema_format",
]

ENCRYPTED_REASONING = "reasoning.encrypted_content"
"""The ``include`` value that returns reasoning items with their encrypted content."""


def _tool_json(tool: Tool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "function",
        "name": tool.name,
        "parameters": tool.parameters,
        "strict": False,
    }
    if tool.description:
        item["description"] = tool.description
    return item


def _tool_choice_json(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "name": choice}


def json_schema_format(
    schema: dict[str, Any],
    *,
    name: str,
    strict: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """The ``text`` field that asks for JSON matching ``schema`` (Structured Outputs).

    With ``strict`` (OpenAI's recommendation), the schema must list every property in
    ``required`` and set ``additionalProperties: false`` on every object.
    """
    fmt: dict[str, Any] = {"type": "json_schema", "name": name, "schema": schema, "strict": strict}
    if description:
        fmt["description"] = description
    return {"format": fmt}


def build_body(
    request: LLMRequest,
    *,
    model: str,
    provider: str,
    stream: bool,
    chained: bool,
    reasoning_model: bool,
    reasoning_summary: str | None,
    official: bool,
) -> dict[str, Any]:
    """The JSON body of ``POST /responses`` for ``request``.

    Args:
        request: The request.
        model: The model to name.
        provider: The adapter's name (parts from it go back; errors name it).
        stream: Whether to ask for a stream.
        chained: The ``chained`` state: store the response, send only the turns after
            the last stored one, with ``previous_response_id``.
        reasoning_model: Whether the model reasons (asks for encrypted reasoning when
            not chained).
        reasoning_summary: The summary to ask for when the call asks for reasoning.
        official: Whether the server is OpenAI's own.

    Raises:
        BadRequestError: If the request asks for what this wire cannot do (stop
            sequences, audio, a reasoning budget): nothing is sent.
    """
    if request.stop:
        raise BadRequestError(
            f"{provider} cannot send stop={list(request.stop)!r}: the Responses API has no "
            f"stop sequences. Leave stop out, or use the openai provider (chat "
            f"completions), which takes them. Nothing was sent.",
            provider=provider,
        )
    turns = conversation(request.messages, provider=provider, chained=chained)
    body: dict[str, Any] = {"model": model}
    if turns.instructions is not None:
        body["instructions"] = turns.instructions
    body["input"] = turns.items
    if turns.previous_response_id is not None:
        body["previous_response_id"] = turns.previous_response_id
    body["store"] = chained
    effort = reasoning_effort(
        request, model=model, provider=provider, official=official, api="the Responses API"
    )
    if effort is not None:
        reasoning: dict[str, Any] = {"effort": effort}
        if reasoning_summary is not None and effort != "none":
            reasoning["summary"] = reasoning_summary
        body["reasoning"] = reasoning
    if not chained and (reasoning_model or (effort is not None and effort != "none")):
        body["include"] = [ENCRYPTED_REASONING]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = [_tool_json(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice_json(request.tool_choice)
    if stream:
        body["stream"] = True
    return body
