"""The OpenAI chat-completions wire format, for `MockServer` and the provider suite.

JSON bodies as ``POST /v1/chat/completions`` returns them, and SSE streams of
``chat.completion.chunk`` objects: a role chunk, content deltas, tool-call deltas whose
argument text is split across chunks, a finish chunk, a usage chunk with empty
``choices`` (``stream_options.include_usage``), then ``data: [DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

from aether.extensions.llm._tool_calls import parse_arguments
from aether.llm.contracts import (
    AudioPart,
    Content,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    Part,
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
    ScriptedReply,
    ScriptedUsage,
    StalledStream,
    StreamErrorEvent,
    TruncatedBody,
    WireRequest,
    WireTool,
)
from aether.testing.wires._http import (
    fault_response,
    json_response,
    mock_transport,
    raise_if_transport_failure,
    request_json,
    sse_response,
)

__all__ = ["OPENAI_WIRE", "OpenAIWire", "error_response"]

_FINISH: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "other": "insufficient_system_resource",
}

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


_UNSUPPORTED = frozenset(
    {
        "cache_write_tokens",
        "reasoning_signature",
        "redacted_reasoning",
        "reasoning_round_trip",
        "audio_url",
        "document_url",
        "video",
        "tool_result_media",
    }
)


def error_response(item: ScriptedError) -> httpx2.Response:
    """OpenAI's error body for ``item`` (chat completions and the Responses API alike)."""
    error_type, code = _ERROR_TYPES.get(item.status, ("server_error", None))
    error = {"message": item.message, "type": error_type, "param": item.param}
    error["code"] = item.code or code
    return json_response(item.status, {"error": error}, item.headers)


def _usage(usage: ScriptedUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "audio_tokens": usage.input_audio_tokens,
            "image_tokens": usage.input_image_tokens,
        },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": usage.output_audio_tokens,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class OpenAIWire:
    """Renders scripts as OpenAI JSON and SSE; decodes chat-completion requests."""

    name = "openai"
    api_key = "sk-test-0123456789abcdef"
    escape_hatch: tuple[dict[str, Any], str, Any] = ({"seed": 7}, "seed", 7)

    def build_provider(self, handler: Callable[[Any], Any], **options: Any) -> Any:
        from aether.extensions.llm.openai import OpenAIProvider

        options.setdefault("api_key", self.api_key)
        return OpenAIProvider(transport=mock_transport(handler), **options)

    def supports(self, feature: str, mode: Mode) -> bool:
        # Reasoning comes as OpenAI-compatible servers send it (reasoning_content), with
        # no signature; chat completions carry no audio URLs, no document URLs, no video.
        return feature not in _UNSUPPORTED

    # -- answers ---------------------------------------------------------------------

    def render(self, item: Script, *, stream: bool, server: MockServer) -> Any:
        raise_if_transport_failure(item)
        if isinstance(item, Hang | ConnectionReset | TruncatedBody):
            reply = ScriptedReply(text=item.text)
            return fault_response(
                item,
                stream=stream,
                server=server,
                events=self._stream_events(reply),
                sent=1 + len(item.text),  # the role chunk, then the text
                body=json.dumps(self._completion(reply)).encode(),
            )
        if isinstance(item, ScriptedError):
            return error_response(item)
        if isinstance(item, MalformedBody):
            if stream:
                return sse_response([b"data: {not json\n\n"], server)
            return json_response(200, item.body)
        if isinstance(item, BrokenStream | StalledStream):
            events = [self._chunk({"content": text}) for text in item.text]
            return sse_response(events, server, stall=isinstance(item, StalledStream))
        if isinstance(item, StreamErrorEvent):
            events = [self._chunk({"content": text}) for text in item.text]
            error = {"message": item.message, "type": "server_error", "code": None}
            return sse_response([*events, _event({"error": error})], server)
        if not isinstance(item, ScriptedReply):
            raise TypeError(f"the OpenAI wire cannot serve {item!r}")
        if stream:
            return sse_response(self._stream_events(item), server)
        return json_response(200, self._completion(item))

    def body(self, reply: ScriptedReply) -> dict[str, Any]:
        """The chat completion answering with ``reply`` (a call's JSON body)."""
        return self._completion(reply)

    def events(self, reply: ScriptedReply) -> list[bytes]:
        """The SSE frames of a stream answering with ``reply``."""
        return self._stream_events(reply)

    def _completion(self, reply: ScriptedReply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(reply.text) if reply.text or not reply.tool_calls else None,
            "refusal": "".join(reply.refusal) or None,
        }
        if reply.refusal and not reply.text:
            message["content"] = None
        if reply.reasoning:
            message["reasoning_content"] = "".join(
                "".join(reasoning.text) for reasoning in reply.reasoning
            )
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.argument_text},
                }
                for call in reply.tool_calls
            ]
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": reply.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _FINISH[reply.finish_reason],
                }
            ],
            "usage": _usage(reply.usage),
            "system_fingerprint": "fp_scripted",
        }

    @staticmethod
    def _chunk(
        delta: dict[str, Any], *, model: str = "scripted-model-001", finish: str | None = None
    ) -> bytes:
        return _event(
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
                "system_fingerprint": "fp_scripted",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                "usage": None,
            }
        )

    def _stream_events(self, reply: ScriptedReply) -> list[bytes]:
        model = reply.model
        events = [self._chunk({"role": "assistant", "content": "", "refusal": None}, model=model)]
        events += [
            self._chunk({"reasoning_content": text}, model=model)
            for reasoning in reply.reasoning
            for text in reasoning.text
        ]
        events += [self._chunk({"content": text}, model=model) for text in reply.text]
        events += [self._chunk({"refusal": text}, model=model) for text in reply.refusal]
        for index, call in enumerate(reply.tool_calls):
            for position, fragment in enumerate(call.arguments):
                function: dict[str, Any] = {"arguments": fragment}
                tool_delta: dict[str, Any] = {"index": index, "function": function}
                if position == 0:
                    tool_delta.update(id=call.id, type="function")
                    function["name"] = call.name
                events.append(self._chunk({"tool_calls": [tool_delta]}, model=model))
        events.append(self._chunk({}, model=model, finish=_FINISH[reply.finish_reason]))
        usage_chunk = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [],
            "usage": _usage(reply.usage),
        }
        return [*events, _event(usage_chunk), b"data: [DONE]\n\n"]

    # -- requests --------------------------------------------------------------------

    def decode(self, request: httpx2.Request) -> WireRequest:
        body = request_json(request)
        system: list[str] = []
        messages: list[Message] = []
        names: dict[str, str] = {}
        for raw in body.get("messages", []):
            role = raw["role"]
            if role in ("system", "developer"):
                system.append(raw["content"])
            elif role == "tool":
                call_id = raw["tool_call_id"]
                messages.append(
                    Message(
                        role="tool",
                        content=_decode_content(raw["content"]),
                        tool_call_id=call_id,
                        name=names.get(call_id),
                    )
                )
            else:
                calls = tuple(_decode_call(call) for call in raw.get("tool_calls") or ())
                names.update({call.id: call.name for call in calls})
                content = _decode_content(raw.get("content"))
                if raw.get("reasoning_content"):
                    reasoning = ReasoningPart(text=raw["reasoning_content"], provider="openai")
                    text = (TextPart(text=content),) if isinstance(content, str) else content
                    content = (reasoning, *text)
                messages.append(Message(role=role, content=content, tool_calls=calls))
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            choice = choice["function"]["name"]
        stop = body.get("stop")
        return WireRequest(
            path=request.url.path,
            stream=bool(body.get("stream")),
            model=body["model"],
            system="\n\n".join(system) if system else None,
            messages=tuple(messages),
            tools=tuple(
                WireTool(
                    tool["function"]["name"],
                    tool["function"].get("description", ""),
                    tool["function"].get("parameters", {}),
                )
                for tool in body.get("tools", [])
            ),
            tool_choice=choice,
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            max_tokens=body.get("max_completion_tokens", body.get("max_tokens")),
            stop=tuple(stop) if isinstance(stop, list) else stop,
            body=body,
            headers=dict(request.headers),
        )


_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}


def _decode_content(content: object) -> Content:
    """A message's content as Aether's: text, or parts (data: URLs read back to bytes)."""
    if not isinstance(content, list):
        return content if isinstance(content, str) else ""
    parts: list[Part] = []
    for item in content:
        kind = item["type"]
        if kind == "text":
            parts.append(TextPart(text=item["text"]))
        elif kind == "image_url":
            image = item["image_url"]
            parts.append(ImagePart(url=image["url"], detail=image.get("detail")))
        elif kind == "input_audio":
            audio = item["input_audio"]
            parts.append(AudioPart(data=audio["data"], media_type=_AUDIO_TYPES[audio["format"]]))
        elif kind == "file":
            file = item["file"]
            parts.append(DocumentPart(url=file["file_data"], name=file.get("filename")))
        else:
            raise AssertionError(f"the adapter sent a content part of unknown type {kind!r}")
    return tuple(parts)


def _decode_call(raw: dict[str, Any]) -> ToolCall:
    arguments, text = parse_arguments(raw["function"]["arguments"])
    return ToolCall(
        id=raw["id"], name=raw["function"]["name"], arguments=arguments, raw_arguments=text
    )


OPENAI_WIRE = OpenAIWire()
"""The OpenAI wire format."""
