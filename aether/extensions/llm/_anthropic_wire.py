"""The Anthropic Messages wire format: request bodies out, JSON and SSE events in.

System messages become the top-level ``system`` parameter; a ``tool`` turn becomes a
``tool_result`` block in a user turn; consecutive turns of one role are merged into one,
as the API expects. Anthropic counts cache reads and writes apart from ``input_tokens``;
Aether's ``input_tokens`` includes them (the convention of every other provider). When
``usage.iterations`` is present (compaction, server tools, the advisor tool), the counts
are its sum: the top-level counts leave out billed iterations.
"""

from __future__ import annotations

from typing import Any

from aether.extensions.llm._anthropic_content import provider_part, read_blocks, turn_blocks
from aether.extensions.llm._anthropic_reasoning import thinking_fields
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._parts import PartsBuilder, answer_parts
from aether.extensions.llm._requests import system_text
from aether.extensions.llm._tool_calls import ToolCallAssembler, parse_arguments, text_of
from aether.llm.contracts import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    ReasoningPart,
    StreamChunk,
    TokenCounts,
)

__all__ = ["MessageStreamState", "build_body", "parse_message", "usage_tokens"]

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _finish(reason: object) -> FinishReason:
    return _FINISH.get(reason, "other") if isinstance(reason, str) else "other"


def _messages(messages: tuple[Message, ...], provider: str) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        role, blocks = turn_blocks(message, provider)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        content = turn["content"]
        # Tool results must open the user turn that answers a tool_use.
        content.sort(key=lambda block: block["type"] != "tool_result")
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return turns


def _tool_choice(choice: str) -> dict[str, Any]:
    if choice == "required":
        return {"type": "any"}
    if choice in ("auto", "none"):
        return {"type": choice}
    return {"type": "tool", "name": choice}


def build_body(
    request: LLMRequest, *, model: str, provider: str, max_tokens: int, stream: bool
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages`` for ``request`` (before the escape hatch).

    Temperature and top_p go in the body: the SDK no longer takes them as arguments,
    but the API does, on the models that take sampling parameters. The adapter's
    sampling rules then leave out the defaults a model does not take.

    Raises:
        BadRequestError: If a part or the reasoning option cannot go on this wire.
    """
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else max_tokens,
        "messages": _messages(request.messages, provider),
    }
    if request.reasoning is not None:
        body.update(
            thinking_fields(request, model=model, provider=provider, default_max_tokens=max_tokens)
        )
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    system = system_text(request.messages, provider)
    if system is not None:
        body["system"] = system
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "input_schema": tool.parameters,
            }
            for tool in request.tools
        ]
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice)
    if stream:
        body["stream"] = True
    return body


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _billed(usage: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage records that were billed: every entry of ``iterations``, if any.

    With compaction, server tools or the advisor tool, one request samples several
    times, each entry of ``usage.iterations`` one sampling. The top-level counts cover
    the ``message`` entries only: a compaction's tokens, and an advisor's (run on the
    advisor model), are billed but appear in ``iterations`` alone. Their sum is the bill.
    """
    iterations = usage.get("iterations")
    if isinstance(iterations, list):
        entries = [entry for entry in iterations if isinstance(entry, dict)]
        if entries:
            return entries
    return [usage]


def usage_tokens(usage: object) -> TokenCounts | None:
    """Aether's token counts from an Anthropic ``usage`` object (``None`` if there is none).

    ``usage.iterations``, when present, is summed: it holds what was billed. Tokens of
    iterations run on another model (the advisor's) are counted with the rest, and so
    priced at the response model's rates: a response's usage names one model.
    """
    if not isinstance(usage, dict):
        return None
    billed = _billed(usage)
    cache_write = sum(_int(entry.get("cache_creation_input_tokens")) for entry in billed)
    cache_read = sum(_int(entry.get("cache_read_input_tokens")) for entry in billed)
    uncached = sum(_int(entry.get("input_tokens")) for entry in billed)
    details = usage.get("output_tokens_details")
    return TokenCounts(
        input=uncached + cache_write + cache_read,
        output=sum(_int(entry.get("output_tokens")) for entry in billed),
        cached_input=cache_read,
        cache_write=cache_write,
        reasoning=_int(details.get("thinking_tokens")) if isinstance(details, dict) else 0,
    )


def parse_message(data: object, *, provider: str, fallback_model: str) -> LLMResponse:
    """The `LLMResponse` for a Messages JSON body."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise malformed(provider, "the body is not a message with a content list")
    text, parts, calls = read_blocks(data["content"], provider=provider)
    model = data.get("model")
    return LLMResponse(
        text=text,
        model=model if isinstance(model, str) and model else fallback_model,
        tokens=usage_tokens(data.get("usage")) or TokenCounts(),
        parts=answer_parts(parts),
        response_id=text_of(data.get("id")) or None,
        tool_calls=tuple(calls),
        finish_reason=_finish(data.get("stop_reason")),
        provider=provider,
    )


class MessageStreamState:
    """Folds Messages stream events into deltas and, at the end, the final chunk.

    Each content block is followed by its index: text and thinking blocks grow a part
    (a thinking block's signature arrives as a ``signature_delta``), ``tool_use`` blocks
    a tool call, a server tool's call (``server_tool_use``, ``mcp_tool_use``) a
    provider-native part whose input is assembled like a tool call's, and every block
    that arrives whole (a server tool's result, ``redacted_thinking``) a part as it is.
    Only ``tool_use`` blocks are the client's tool calls: an ``input_json_delta`` of any
    other block never becomes one. In tool mode (structured output), the output tool's
    input deltas come back as text deltas, so the answer streams like a native one.
    """

    __slots__ = (
        "_blocks",
        "_client_calls",
        "_output_index",
        "_parts",
        "_provider",
        "_stopped",
        "_tools",
        "finish",
        "model",
        "output_tool",
        "response_id",
        "usage",
    )

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.output_tool: str | None = None
        self._output_index: object = None
        self._tools = ToolCallAssembler()
        self._parts = PartsBuilder(provider)
        self._blocks: dict[object, Any] = {}
        self._client_calls: set[object] = set()
        self._stopped = False
        self.finish: object = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: dict[str, Any] = {}

    def feed(self, event: object) -> str | StreamChunk | None:
        """Record one event; return its text delta or its reasoning chunk, if any."""
        if not isinstance(event, dict):
            raise malformed(self._provider, f"a stream event is {type(event).__name__}")
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                raise malformed(self._provider, "content_block_delta has no delta")
            return self._delta(event.get("index"), delta)
        if kind == "content_block_start":
            block = event.get("content_block")
            if not isinstance(block, dict):
                raise malformed(self._provider, "content_block_start has no content_block")
            self._start(event.get("index"), block)
        elif kind == "content_block_stop":
            self._stop(event.get("index"))
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("model"), str):
                    self.model = message["model"]
                self.response_id = text_of(message.get("id")) or None
                self._merge_usage(message.get("usage"))
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.finish = delta["stop_reason"]
            self._merge_usage(event.get("usage"))
        elif kind == "message_stop":
            self._stopped = True
        return None

    def _delta(self, index: object, delta: dict[str, Any]) -> str | StreamChunk | None:
        delta_kind = delta.get("type")
        block = self._blocks.get(index)
        if delta_kind == "text_delta":
            text = delta.get("text")
            if not isinstance(text, str) or not text:
                return None
            if block is not None:
                block.texts.append(text)
            return text
        if delta_kind == "thinking_delta":
            text = delta.get("thinking")
            if not isinstance(text, str) or not text:
                return None
            if block is not None:
                block.texts.append(text)
            return StreamChunk(kind="reasoning", reasoning=text)
        if delta_kind == "signature_delta":
            signature = delta.get("signature")
            if block is not None and isinstance(signature, str):
                block.signature = (block.signature or "") + signature
        elif delta_kind == "input_json_delta":
            fragment = delta.get("partial_json")
            if isinstance(block, list):
                if isinstance(fragment, str):
                    block.append(fragment)  # a server tool's input
            elif index in self._client_calls:
                self._tools.add(index, arguments=fragment)
                if index == self._output_index and isinstance(fragment, str) and fragment:
                    return fragment
        return None

    def _start(self, index: object, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = self._parts.open("text")
        elif kind == "thinking":
            self._blocks[index] = self._parts.open("reasoning")
        elif kind == "tool_use":
            self._client_calls.add(index)
            if self.output_tool is not None and block.get("name") == self.output_tool:
                self._output_index = index
            self._tools.add(index, call_id=block.get("id"), name=block.get("name"))
            self._tools.set_arguments(index, block.get("input"))
        elif kind == "redacted_thinking":
            data = block.get("data")
            signature = data if isinstance(data, str) and data else None
            self._parts.add(
                ReasoningPart(signature=signature, redacted=True, provider=self._provider)
            )
        elif kind in ("server_tool_use", "mcp_tool_use"):
            self._blocks[index] = [block]  # its input arrives as input_json_delta
        elif isinstance(kind, str):
            self._parts.add(provider_part(block, self._provider))

    def _stop(self, index: object) -> None:
        block = self._blocks.pop(index, None)
        if isinstance(block, list):
            start, *fragments = block
            arguments, _ = parse_arguments("".join(fragments))
            if fragments:
                start = {**start, "input": arguments}
            self._parts.add(provider_part(start, self._provider))

    def _merge_usage(self, usage: object) -> None:
        # message_delta's counts are cumulative: a later value replaces an earlier one.
        if isinstance(usage, dict):
            self.usage.update({key: value for key, value in usage.items() if value is not None})

    def final(self, fallback_model: str) -> StreamChunk:
        """The stream's final chunk.

        Raises:
            MalformedResponseError: If the stream ended before ``message_stop``.
        """
        if not self._stopped:
            raise malformed(self._provider, "the stream ended before message_stop")
        return StreamChunk(
            finish_reason=_finish(self.finish),
            model=self.model or fallback_model,
            tokens=usage_tokens(self.usage) if self.usage else None,
            parts=self._parts.parts(),
            tool_calls=self._tools.calls(id_prefix="toolu"),
            provider=self._provider,
            response_id=self.response_id,
        )
