"""The Anthropic Messages wire format: request bodies out, JSON and SSE events in.

System messages become the top-level ``system`` parameter; a ``tool`` turn becomes a
``tool_result`` block in a user turn; consecutive turns of one role are merged into one,
as the API expects. Anthropic counts cache reads and writes apart from ``input_tokens``;
Aether's ``input_tokens`` includes them (the convention of every other provider).
"""

from __future__ import annotations

from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._requests import system_text
from aether.extensions.llm._tool_calls import ToolCallAssembler, make_tool_call, text_of
from aether.llm.contracts import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    ToolCall,
)

__all__ = ["MessageStreamState", "build_body", "parse_message", "usage_fields"]

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


def _blocks(message: Message, provider: str) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        if not message.tool_call_id:
            raise BadRequestError(
                "a tool message needs tool_call_id (the id of the tool_use it answers)",
                provider=provider,
            )
        block = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        return "user", [{**block, "content": message.content}]
    blocks: list[dict[str, Any]] = []
    if message.content or not message.tool_calls:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return message.role, blocks


def _messages(messages: tuple[Message, ...], provider: str) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role, blocks = _blocks(message, provider)
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
    """
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else max_tokens,
        "messages": _messages(request.messages, provider),
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    system = system_text(request.messages)
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


def usage_fields(usage: object) -> dict[str, int]:
    """Aether's token counts from an Anthropic ``usage`` object."""
    if not isinstance(usage, dict):
        return {}
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    cache_read = _int(usage.get("cache_read_input_tokens"))
    details = usage.get("output_tokens_details")
    return {
        "input_tokens": _int(usage.get("input_tokens")) + cache_write + cache_read,
        "output_tokens": _int(usage.get("output_tokens")),
        "cached_input_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "reasoning_tokens": _int(details.get("thinking_tokens"))
        if isinstance(details, dict)
        else 0,
    }


def parse_message(data: object, *, provider: str, fallback_model: str) -> LLMResponse:
    """The `LLMResponse` for a Messages JSON body."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise malformed(provider, "the body is not a message with a content list")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in data["content"]:
        if not isinstance(block, dict):
            raise malformed(provider, "a content block is not an object")
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            # A nameless call goes back to the model through the tool loop, as in streams.
            call_id = text_of(block.get("id")) or f"toolu_{len(calls)}"
            calls.append(
                make_tool_call(call_id, text_of(block.get("name")), arguments=block.get("input"))
            )
    model = data.get("model")
    return LLMResponse(
        text="".join(texts),
        model=model if isinstance(model, str) and model else fallback_model,
        response_id=text_of(data.get("id")) or None,
        tool_calls=tuple(calls),
        finish_reason=_finish(data.get("stop_reason")),
        provider=provider,
        **usage_fields(data.get("usage")),
    )


class MessageStreamState:
    """Folds Messages stream events into text deltas and, at the end, the final chunk."""

    __slots__ = ("_provider", "_stopped", "_tools", "finish", "model", "response_id", "usage")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._tools = ToolCallAssembler()
        self._stopped = False
        self.finish: object = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: dict[str, Any] = {}

    def feed(self, event: object) -> str | None:
        """Record one event; return its text delta, if it has one."""
        if not isinstance(event, dict):
            raise malformed(self._provider, f"a stream event is {type(event).__name__}")
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                raise malformed(self._provider, "content_block_delta has no delta")
            delta_kind = delta.get("type")
            if delta_kind == "text_delta":
                text = delta.get("text")
                return text if isinstance(text, str) and text else None
            if delta_kind == "input_json_delta":
                self._tools.add(event.get("index"), arguments=delta.get("partial_json"))
            return None
        if kind == "content_block_start":
            block = event.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use":
                index = event.get("index")
                self._tools.add(index, call_id=block.get("id"), name=block.get("name"))
                self._tools.set_arguments(index, block.get("input"))
            return None
        if kind == "message_start":
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
        usage = usage_fields(self.usage)
        return StreamChunk(
            finish_reason=_finish(self.finish),
            model=self.model or fallback_model,
            tool_calls=self._tools.calls(id_prefix="toolu"),
            provider=self._provider,
            response_id=self.response_id,
            **usage,
        )
