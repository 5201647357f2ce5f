"""The ``tool`` and ``prompted`` output modes, for any provider: what is sent, what comes back.

Vendor-independent on purpose: the adapters, the Fake provider and the pipeline (for a
provider of your own that does not read `LLMRequest.output`) share them. An adapter
picks the mode (`ResolvedOutputMode`) and adds its vendor's native fields itself.

- ``tool``: the request gets one more tool, ``final_result`` (renamed if yours has that
  name), whose parameters are the answer's schema, and a ``tool_choice`` that makes the
  model call a tool: that one alone when the request has no tools of its own, any of
  them (``required``) when it has, so the tool loop still runs yours first. Where a
  vendor cannot force a tool (Anthropic with extended thinking), the choice stays and
  an instruction asks for the call. The model's call to it comes back as the answer's
  text (`finish_response`, `finish_chunk`); a call to it beside other calls wins over
  them, since the model has answered.
- ``prompted``: an instruction holding the schema goes after the conversation's own
  instructions (a stable prefix for prompt caches).
- ``native``: only ``request.output.mode`` changes; the adapter sends the schema.

`without_native_output` gives a provider of your own (one that does not declare
``structured_output = True``) the ``prompted`` mode for ``auto`` and the ``tool`` mode on
request; the pipeline wraps such a provider with it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aether.errors import BadRequestError
from aether.llm.contracts import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    TextPart,
    Tool,
)
from aether.llm.output import (
    OUTPUT_TOOL_NAME,
    OutputSchema,
    ResolvedOutputMode,
    prompted_instructions,
)

__all__ = [
    "OutputPlan",
    "apply_mode",
    "finish_chunk",
    "finish_response",
    "output_tool_name",
    "without_native_output",
]


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """How one call asks for its structured answer.

    Attributes:
        mode: The mode used.
        tool: In ``tool`` mode, the output tool's name.
    """

    mode: ResolvedOutputMode
    tool: str | None = None


def output_tool_name(tools: tuple[Tool, ...]) -> str:
    """``final_result``, or ``final_result_2``... if a tool of the request has that name."""
    taken = {tool.name for tool in tools}
    name, index = OUTPUT_TOOL_NAME, 1
    while name in taken:
        index += 1
        name = f"{OUTPUT_TOOL_NAME}_{index}"
    return name


def _tool_instruction(tool: str) -> str:
    return (
        f"When you have the final answer, give it by calling the {tool} tool, with the "
        f"answer as its arguments."
    )


def _with_instruction(messages: tuple[Message, ...], text: str) -> tuple[Message, ...]:
    lead = 0
    while lead < len(messages) and messages[lead].role in ("system", "developer"):
        lead += 1
    return (*messages[:lead], Message(role="system", content=text), *messages[lead:])


def _forced_choice(choice: str | None, *, tool: str, has_tools: bool) -> str:
    if choice in (None, "auto"):
        return "required" if has_tools else tool
    if choice == "none":
        return tool  # no more tools of yours: the answer, now
    return choice


def apply_mode(
    request: LLMRequest,
    mode: ResolvedOutputMode,
    *,
    tool_schema: dict[str, Any] | None = None,
    forced: bool = True,
) -> tuple[LLMRequest, OutputPlan]:
    """``request`` as sent in ``mode``, and the plan to read the answer back with.

    Args:
        request: A request with ``output`` set.
        mode: The mode the adapter chose.
        tool_schema: The output tool's parameters in ``tool`` mode (the vendor's form of
            the schema); ``request.output.json_schema`` when omitted.
        forced: Whether the vendor can be made to call the tool (``tool_choice``).
    """
    output = request.output
    assert output is not None
    update: dict[str, Any] = {"output": output.with_mode(mode)}
    if mode == "prompted":
        update["messages"] = _with_instruction(request.messages, prompted_instructions(output))
        return request.model_copy(update=update), OutputPlan("prompted")
    if mode == "native":
        return request.model_copy(update=update), OutputPlan("native")
    name = output_tool_name(request.tools)
    description = output.description or "The final answer."
    tool = Tool(
        name=name,
        description=description,
        parameters=tool_schema if tool_schema is not None else output.json_schema,
    )
    has_tools = bool(request.tools)
    update["tools"] = (*request.tools, tool)
    if forced:
        update["tool_choice"] = _forced_choice(request.tool_choice, tool=name, has_tools=has_tools)
    elif request.tool_choice == "none":
        update["tool_choice"] = "auto"
    if has_tools or not forced:
        update["messages"] = _with_instruction(request.messages, _tool_instruction(name))
    return request.model_copy(update=update), OutputPlan("tool", name)


def _arguments_text(arguments: dict[str, Any], raw: str | None) -> str:
    if raw is not None:
        return raw
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def _answer_parts(parts: tuple[Any, ...], text: str) -> tuple[Any, ...]:
    """The answer's parts with its text parts replaced by the JSON (kept only if any)."""
    if not parts:
        return ()
    kept = tuple(part for part in parts if not isinstance(part, TextPart))
    return (*kept, TextPart(text=text))


def _answered(reason: FinishReason | None) -> FinishReason | None:
    """The finish reason of an answer given through the output tool: it stopped, unless
    ``max_tokens`` cut it (then its arguments are cut too)."""
    return "stop" if reason in ("tool_calls", "stop", None) else reason


def finish_response(response: LLMResponse, plan: OutputPlan) -> LLMResponse:
    """``response`` with the mode recorded, and in ``tool`` mode the call made the answer."""
    update: dict[str, Any] = {"output_mode": plan.mode}
    if plan.tool is not None:
        call = next((call for call in response.tool_calls if call.name == plan.tool), None)
        if call is not None:
            text = _arguments_text(call.arguments, call.raw_arguments)
            update.update(
                text=text,
                tool_calls=(),
                finish_reason=_answered(response.finish_reason),
                parts=_answer_parts(response.parts, text),
            )
    return response.model_copy(update=update)


def finish_chunk(chunk: StreamChunk, plan: OutputPlan, *, streamed: bool) -> StreamChunk:
    """The final chunk, as `finish_response` does it.

    Args:
        chunk: The stream's final chunk.
        plan: The call's plan.
        streamed: Whether the output tool's arguments were already yielded as text
            chunks; if not, the final chunk carries them as its text.
    """
    update: dict[str, Any] = {"output_mode": plan.mode}
    if plan.tool is not None:
        call = next((call for call in chunk.tool_calls if call.name == plan.tool), None)
        if call is not None:
            text = _arguments_text(call.arguments, call.raw_arguments)
            update.update(
                tool_calls=(),
                finish_reason=_answered(chunk.finish_reason),
                parts=_answer_parts(chunk.parts, text),
            )
            if not streamed:
                update["text"] = chunk.text + text
    return chunk.model_copy(update=update)


def describe(schema: OutputSchema) -> str:
    """``Invoice (native)``: a schema's name and mode, for reprs and messages."""
    return f"{schema.name} ({schema.mode})"


Complete = Callable[[LLMRequest], Awaitable[LLMResponse]]
Stream = Callable[[LLMRequest], AsyncIterator[StreamChunk]]


def without_native_output(name: str, complete: Complete, stream: Stream) -> tuple[Complete, Stream]:
    """A provider's ``complete`` and ``stream`` given the ``prompted`` and ``tool`` modes.

    For a provider that does not read `LLMRequest.output`: ``auto`` and ``prompted`` send
    the schema in the instructions, ``tool`` adds the output tool; ``native`` is refused
    (nothing is sent). Requests without ``output`` go straight to the provider.
    """

    def planned(request: LLMRequest) -> tuple[LLMRequest, OutputPlan]:
        output = request.output
        assert output is not None
        if output.mode == "native":
            raise BadRequestError(
                f"the {name} provider has no native structured output (it does not declare "
                f"structured_output = True); use output_mode='auto' or 'prompted' (the "
                f"schema in the instructions) or 'tool'. Nothing was sent.",
                provider=name,
            )
        return apply_mode(request, "tool" if output.mode == "tool" else "prompted")

    async def call_planned(request: LLMRequest) -> LLMResponse:
        sent, plan = planned(request)
        return finish_response(await complete(sent), plan)

    def call(request: LLMRequest) -> Awaitable[LLMResponse]:
        if request.output is None:
            return complete(request)
        return call_planned(request)

    async def stream_planned(request: LLMRequest) -> AsyncIterator[StreamChunk]:
        sent, plan = planned(request)
        inner = stream(sent)
        try:
            async for chunk in inner:
                if chunk.finish_reason is not None:
                    chunk = finish_chunk(chunk, plan, streamed=False)
                yield chunk
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()

    def streamed(request: LLMRequest) -> AsyncIterator[StreamChunk]:
        if request.output is None:
            return stream(request)
        return stream_planned(request)

    return call, streamed
