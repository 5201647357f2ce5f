"""The Anthropic Messages wire format, for `MockServer` and the provider suite.

JSON bodies as ``POST /v1/messages`` returns them, and the event stream: message_start
(input usage), content_block_start / content_block_delta (text_delta, input_json_delta)
/ content_block_stop per block, a ping, message_delta (stop_reason, output usage),
message_stop. Anthropic reports cache reads and writes apart from ``input_tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

from aether.llm.contracts import (
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCall,
)
from aether.testing.wire import (
    BrokenStream,
    ConnectionReset,
    Hang,
    MalformedBody,
    MockServer,
    Mode,
    Script,
    ScriptedError,
    ScriptedReasoning,
    ScriptedReply,
    ScriptedUsage,
    StalledStream,
    StreamErrorEvent,
    TruncatedBody,
    WireRequest,
    WireTool,
    refused,
)
from aether.testing.wires._http import (
    fault_response,
    json_response,
    mock_transport,
    raise_if_transport_failure,
    request_json,
    sse_response,
)

__all__ = ["ANTHROPIC_WIRE", "AnthropicWire"]

_STOP: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "other": "pause_turn",
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _usage(usage: ScriptedUsage, *, output: int | None = None) -> dict[str, Any]:
    uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens
    return {
        "input_tokens": uncached,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens if output is None else output,
        "output_tokens_details": {"thinking_tokens": usage.reasoning_tokens},
    }


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


def _message(reply: ScriptedReply, *, content: list[Any], usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_scripted",
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }


class AnthropicWire:
    """Renders scripts as Anthropic JSON and SSE; decodes Messages requests."""

    name = "anthropic"
    api_key = "sk-ant-test-0123456789abcdef"
    escape_hatch: tuple[dict[str, Any], str, Any] = (
        {"metadata": {"user_id": "user-42"}},
        "metadata.user_id",
        "user-42",
    )

    def build_provider(self, handler: Callable[[Any], Any], **options: Any) -> Any:
        from aether.extensions.llm.anthropic import AnthropicProvider

        options.setdefault("api_key", self.api_key)
        return AnthropicProvider(transport=mock_transport(handler), **options)

    def supports(self, feature: str, mode: Mode) -> bool:
        if feature == "raw_tool_arguments":
            return mode == "stream"  # a JSON body's tool input is always an object
        # No audio, no video; no per-modality token counts.
        return feature not in ("audio", "audio_url", "video", "media_tokens")

    # -- answers ---------------------------------------------------------------------

    def render(self, item: Script, *, stream: bool, server: MockServer) -> Any:
        raise_if_transport_failure(item)
        if isinstance(item, ScriptedReply):
            item = refused(item)
        if isinstance(item, Hang | ConnectionReset | TruncatedBody):
            reply = ScriptedReply(text=item.text)
            events = self._stream_events(reply)
            return fault_response(
                item,
                stream=stream,
                server=server,
                events=events,
                # Everything up to the text block's stop (or message_start alone).
                sent=len(events) - (3 if item.text else 2),
                body=json.dumps(self._message_body(reply)).encode(),
            )
        if isinstance(item, ScriptedError):
            error_type = _ERROR_TYPES.get(item.status, "api_error")
            body = {"type": "error", "error": {"type": error_type, "message": item.message}}
            return json_response(item.status, body, {"request-id": "req_scripted", **item.headers})
        if isinstance(item, MalformedBody):
            if stream:
                return sse_response([b"event: message_start\ndata: {not json\n\n"], server)
            return json_response(200, item.body)
        if isinstance(item, BrokenStream | StalledStream):
            events = self._stream_events(ScriptedReply(text=item.text))[:-3]
            return sse_response(events, server, stall=isinstance(item, StalledStream))
        if isinstance(item, StreamErrorEvent):
            events = self._stream_events(ScriptedReply(text=item.text))[:-3] if item.text else []
            error = {"type": "overloaded_error", "message": item.message}
            return sse_response(
                [*events, _event("error", {"type": "error", "error": error})], server
            )
        if not isinstance(item, ScriptedReply):
            raise TypeError(f"the Anthropic wire cannot serve {item!r}")
        if stream:
            return sse_response(self._stream_events(item), server)
        return json_response(200, self._message_body(item))

    def body(self, reply: ScriptedReply) -> dict[str, Any]:
        """The message answering with ``reply`` (a call's JSON body)."""
        return self._message_body(refused(reply))

    def events(self, reply: ScriptedReply) -> list[bytes]:
        """The SSE frames of a stream answering with ``reply``."""
        return self._stream_events(refused(reply))

    @staticmethod
    def _message_body(item: ScriptedReply) -> dict[str, Any]:
        content: list[Any] = [_reasoning_block(reasoning) for reasoning in item.reasoning]
        if item.text:
            content.append({"type": "text", "text": "".join(item.text)})
        content += [
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": json.loads(call.argument_text),
            }
            for call in item.tool_calls
        ]
        message = _message(item, content=content, usage=_usage(item.usage))
        message["stop_reason"] = _STOP[item.finish_reason]
        return message

    def _stream_events(self, reply: ScriptedReply) -> list[bytes]:
        start = _message(reply, content=[], usage=_usage(reply.usage, output=1))
        events = [_event("message_start", {"type": "message_start", "message": start})]
        index = 0
        for reasoning in reply.reasoning:
            events += self._reasoning_events(index, reasoning)
            index += 1
        if reply.text:
            events.append(self._block_start(index, {"type": "text", "text": ""}))
            events.append(_event("ping", {"type": "ping"}))
            for text in reply.text:
                delta = {"type": "text_delta", "text": text}
                events.append(self._block_delta(index, delta))
            events.append(self._block_stop(index))
            index += 1
        for call in reply.tool_calls:
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            events.append(self._block_start(index, block))
            for fragment in call.arguments:
                delta = {"type": "input_json_delta", "partial_json": fragment}
                events.append(self._block_delta(index, delta))
            events.append(self._block_stop(index))
            index += 1
        usage = _usage(reply.usage)
        message_delta = {
            "type": "message_delta",
            "delta": {"stop_reason": _STOP[reply.finish_reason], "stop_sequence": None},
            "usage": {
                "output_tokens": usage["output_tokens"],
                "output_tokens_details": usage["output_tokens_details"],
            },
        }
        return [
            *events,
            _event("message_delta", message_delta),
            _event("message_stop", {"type": "message_stop"}),
        ]

    def _reasoning_events(self, index: int, reasoning: ScriptedReasoning) -> list[bytes]:
        if reasoning.redacted:  # arrives whole
            block = _reasoning_block(reasoning)
            return [self._block_start(index, block), self._block_stop(index)]
        events = [self._block_start(index, {"type": "thinking", "thinking": "", "signature": ""})]
        for text in reasoning.text:
            events.append(self._block_delta(index, {"type": "thinking_delta", "thinking": text}))
        if reasoning.signature is not None:
            signature = reasoning.signature
            middle = len(signature) // 2  # a long signature may come in pieces
            for piece in (signature[:middle], signature[middle:]):
                delta = {"type": "signature_delta", "signature": piece}
                events.append(self._block_delta(index, delta))
        return [*events, self._block_stop(index)]

    @staticmethod
    def _block_start(index: int, block: dict[str, Any]) -> bytes:
        payload = {"type": "content_block_start", "index": index, "content_block": block}
        return _event("content_block_start", payload)

    @staticmethod
    def _block_delta(index: int, delta: dict[str, Any]) -> bytes:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        return _event("content_block_delta", payload)

    @staticmethod
    def _block_stop(index: int) -> bytes:
        return _event("content_block_stop", {"type": "content_block_stop", "index": index})

    # -- requests --------------------------------------------------------------------

    def decode(self, request: httpx2.Request) -> WireRequest:
        body = request_json(request)
        messages: list[Message] = []
        names: dict[str, str] = {}
        for turn in body.get("messages", []):
            messages += _decode_turn(turn, names)
        choice = body.get("tool_choice")
        tool_choice = None
        if isinstance(choice, dict):
            tool_choice = {"any": "required"}.get(
                choice["type"], choice.get("name") or choice["type"]
            )
        system = body.get("system")
        if isinstance(system, list):
            system = "".join(block.get("text", "") for block in system)
        stop = body.get("stop_sequences")
        return WireRequest(
            path=request.url.path,
            stream=bool(body.get("stream")),
            model=body["model"],
            system=system,
            messages=tuple(messages),
            tools=tuple(
                WireTool(tool["name"], tool.get("description", ""), tool.get("input_schema", {}))
                for tool in body.get("tools", [])
            ),
            tool_choice=tool_choice,
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            max_tokens=body.get("max_tokens"),
            stop=tuple(stop) if isinstance(stop, list) else None,
            body=body,
            headers=dict(request.headers),
        )


def _reasoning_block(reasoning: ScriptedReasoning) -> dict[str, Any]:
    if reasoning.redacted:
        return {"type": "redacted_thinking", "data": reasoning.signature or ""}
    return {
        "type": "thinking",
        "thinking": "".join(reasoning.text),
        "signature": reasoning.signature or "",
    }


def _decode_turn(turn: dict[str, Any], names: dict[str, str]) -> list[Message]:
    content = turn["content"]
    if isinstance(content, str):
        return [Message(role=turn["role"], content=content)]
    decoded: list[Message] = []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for block in content:
        kind = block["type"]
        if kind == "tool_use":
            names[block["id"]] = block["name"]
            calls.append(ToolCall(id=block["id"], name=block["name"], arguments=block["input"]))
        elif kind == "tool_result":
            result = block.get("content", "")
            if isinstance(result, list):
                result = _plain(tuple(_decode_block(item) for item in result))
            call_id = block["tool_use_id"]
            decoded.append(
                Message(role="tool", content=result, tool_call_id=call_id, name=names.get(call_id))
            )
        else:
            parts.append(_decode_block(block))
    if parts or calls:
        decoded.append(
            Message(role=turn["role"], content=_plain(tuple(parts)), tool_calls=tuple(calls))
        )
    return decoded


def _plain(parts: tuple[Part, ...]) -> str | tuple[Part, ...]:
    """Text blocks alone read back as one string (how Aether sends plain text)."""
    if all(isinstance(part, TextPart) for part in parts):
        return "".join(part.text for part in parts if isinstance(part, TextPart))
    return parts


def _decode_block(block: dict[str, Any]) -> Part:
    kind = block["type"]
    if kind == "text":
        return TextPart(text=block["text"])
    if kind == "thinking":
        return ReasoningPart(
            text=block["thinking"], signature=block["signature"], provider="anthropic"
        )
    if kind == "redacted_thinking":
        return ReasoningPart(signature=block["data"], redacted=True, provider="anthropic")
    if kind in ("image", "document"):
        source = block["source"]
        cls = ImagePart if kind == "image" else DocumentPart
        extra = {"name": block["title"]} if "title" in block else {}
        if source["type"] == "url":
            return cls(url=source["url"], **extra)
        if source["type"] == "text":
            return DocumentPart(data=source["data"].encode(), media_type="text/plain", **extra)
        return cls(data=source["data"], media_type=source["media_type"], **extra)
    return ProviderPart(provider="anthropic", kind=kind, data=block)


ANTHROPIC_WIRE = AnthropicWire()
"""The Anthropic Messages wire format."""
