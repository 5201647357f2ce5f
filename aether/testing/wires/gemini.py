"""The Gemini wire format, for `MockServer` and the provider suite.

JSON bodies as ``models/{model}:generateContent`` returns them, and
``models/{model}:streamGenerateContent?alt=sse`` streams: one ``GenerateContentResponse``
per ``data:`` event, the last one carrying ``finishReason`` and ``usageMetadata``.
Gemini sends function calls whole, with their arguments as a JSON object.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx2

from aether.llm.contracts import (
    AudioPart,
    Content,
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

__all__ = ["GEMINI_WIRE", "GeminiWire"]

_FINISH: dict[FinishReason, str] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
    "other": "MALFORMED_FUNCTION_CALL",
}

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

THOUGHT_SIGNATURE = base64.b64encode(b"scripted-thought-signature").decode()
"""A ``thoughtSignature`` (base64 text, as on the wire) for scripts to attach."""

_UNSUPPORTED = frozenset(
    {"raw_tool_arguments", "cache_write_tokens", "redacted_reasoning", "document_name"}
)


def _usage(usage: ScriptedUsage) -> dict[str, Any]:
    media = usage.input_audio_tokens + usage.input_image_tokens
    prompt = [{"modality": "TEXT", "tokenCount": usage.input_tokens - media}]
    if usage.input_image_tokens:
        prompt.append({"modality": "IMAGE", "tokenCount": usage.input_image_tokens})
    if usage.input_audio_tokens:
        prompt.append({"modality": "AUDIO", "tokenCount": usage.input_audio_tokens})
    candidates = usage.output_tokens - usage.reasoning_tokens
    body: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": candidates,
        "thoughtsTokenCount": usage.reasoning_tokens,
        "cachedContentTokenCount": usage.cached_input_tokens,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
        "promptTokensDetails": prompt,
    }
    if usage.output_audio_tokens:
        body["candidatesTokensDetails"] = [
            {"modality": "TEXT", "tokenCount": candidates - usage.output_audio_tokens},
            {"modality": "AUDIO", "tokenCount": usage.output_audio_tokens},
        ]
    return body


def _thoughts(reasoning: ScriptedReasoning) -> list[dict[str, Any]]:
    """Thought parts, one per delta; the signature on the last."""
    parts: list[dict[str, Any]] = [{"text": text, "thought": True} for text in reasoning.text]
    if reasoning.signature is not None and parts:
        parts[-1]["thoughtSignature"] = reasoning.signature
    return parts


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"


def _response(parts: list[Any], *, model: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": model, "responseId": "resp-scripted"}


class GeminiWire:
    """Renders scripts as Gemini JSON and SSE; decodes generateContent requests."""

    name = "gemini"
    api_key = "gemini-test-0123456789abcdef"
    escape_hatch: tuple[dict[str, Any], str, Any] = (
        {"seed": 7},
        "generationConfig.seed",
        7,
    )

    def build_provider(self, handler: Callable[[Any], Any], **options: Any) -> Any:
        from aether.extensions.llm.gemini import GeminiProvider

        options.setdefault("api_key", self.api_key)
        return GeminiProvider(transport=mock_transport(handler), **options)

    def supports(self, feature: str, mode: Mode) -> bool:
        # Gemini sends arguments as an object, reports no cache writes, never redacts
        # reasoning, and has no file names on inline data.
        return feature not in _UNSUPPORTED

    # -- answers ---------------------------------------------------------------------

    def render(self, item: Script, *, stream: bool, server: MockServer) -> Any:
        raise_if_transport_failure(item)
        if isinstance(item, ScriptedReply):
            item = refused(item)
        if isinstance(item, Hang | ConnectionReset | TruncatedBody):
            reply = ScriptedReply(text=item.text)
            return fault_response(
                item,
                stream=stream,
                server=server,
                events=[_event(payload) for payload in self._stream_payloads(reply)],
                sent=len(item.text),
                body=json.dumps(self._complete_body(reply)).encode(),
            )
        if isinstance(item, ScriptedError):
            status = _STATUS_NAMES.get(item.status, "UNKNOWN")
            body = {"error": {"code": item.status, "message": item.message, "status": status}}
            return json_response(item.status, body, item.headers)
        if isinstance(item, MalformedBody):
            if stream:
                return sse_response([b"data: {not json\r\n\r\n"], server)
            return json_response(200, item.body)
        if isinstance(item, BrokenStream | StalledStream):
            events = [_event(_response([{"text": text}], model="m")) for text in item.text]
            return sse_response(events, server, stall=isinstance(item, StalledStream))
        if isinstance(item, StreamErrorEvent):
            events = [_event(_response([{"text": text}], model="m")) for text in item.text]
            error = {"code": 503, "message": item.message, "status": "UNAVAILABLE"}
            return sse_response([*events, _event({"error": error})], server)
        if not isinstance(item, ScriptedReply):
            raise TypeError(f"the Gemini wire cannot serve {item!r}")
        if not stream:
            return json_response(200, self._complete_body(item))
        return sse_response(self.events(item), server)

    def body(self, reply: ScriptedReply) -> dict[str, Any]:
        """The ``GenerateContentResponse`` answering with ``reply`` (a call's JSON body)."""
        return self._complete_body(refused(reply))

    def events(self, reply: ScriptedReply) -> list[bytes]:
        """The SSE frames of a stream answering with ``reply``."""
        return [_event(payload) for payload in self._stream_payloads(refused(reply))]

    @staticmethod
    def _calls(item: ScriptedReply) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for call in item.tool_calls:
            function_call = {
                "id": call.id,
                "name": call.name,
                "args": json.loads(call.argument_text),
            }
            part: dict[str, Any] = {"functionCall": function_call}
            if call.signature is not None:
                part["thoughtSignature"] = call.signature
            parts.append(part)
        return parts

    def _complete_body(self, item: ScriptedReply) -> dict[str, Any]:
        thoughts = [
            {"text": "".join(reasoning.text), "thought": True}
            | ({"thoughtSignature": reasoning.signature} if reasoning.signature else {})
            for reasoning in item.reasoning
        ]
        text_parts = [{"text": "".join(item.text)}] if item.text else []
        finish = _FINISH[item.finish_reason]
        parts = [*thoughts, *text_parts, *self._calls(item)]
        body = _response(parts, model=item.model, finish=finish)
        body["usageMetadata"] = _usage(item.usage)
        return body

    def _stream_payloads(self, item: ScriptedReply) -> list[dict[str, Any]]:
        """One payload per thought and text delta, then the last with calls, finish, usage."""
        payloads = [
            _response([part], model=item.model)
            for reasoning in item.reasoning
            for part in _thoughts(reasoning)
        ]
        payloads += [_response([{"text": text}], model=item.model) for text in item.text]
        last = _response(self._calls(item), model=item.model, finish=_FINISH[item.finish_reason])
        last["usageMetadata"] = _usage(item.usage)
        return [*payloads, last]

    # -- requests --------------------------------------------------------------------

    def decode(self, request: httpx2.Request) -> WireRequest:
        body = request_json(request)
        path = request.url.path
        model = path.rsplit("/", 1)[-1].split(":", 1)[0]
        messages: list[Message] = []
        for content in body.get("contents", []):
            messages += _decode_content(content)
        system_parts = (body.get("systemInstruction") or {}).get("parts", [])
        system = "".join(part.get("text", "") for part in system_parts) if system_parts else None
        tools = [
            WireTool(
                declaration["name"],
                declaration.get("description", ""),
                declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema")),
            )
            for tool in body.get("tools", [])
            for declaration in tool.get("functionDeclarations", [])
        ]
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = calling.get("mode")
        tool_choice = None
        if calling.get("allowedFunctionNames"):
            tool_choice = calling["allowedFunctionNames"][0]
        elif mode is not None:
            tool_choice = {"ANY": "required"}.get(mode, mode.lower())
        generation = body.get("generationConfig") or {}
        stop = generation.get("stopSequences")
        return WireRequest(
            path=path,
            stream="streamGenerateContent" in path,
            model=model,
            system=system,
            messages=tuple(messages),
            tools=tuple(tools),
            tool_choice=tool_choice,
            temperature=generation.get("temperature"),
            top_p=generation.get("topP"),
            max_tokens=generation.get("maxOutputTokens"),
            stop=tuple(stop) if isinstance(stop, list) else None,
            body=body,
            headers=dict(request.headers),
        )


def _decode_content(content: dict[str, Any]) -> list[Message]:
    parts: list[Part] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    for part in content.get("parts", []):
        signature = part.get("thoughtSignature")
        if "functionCall" in part:
            call = part["functionCall"]
            calls.append(
                ToolCall(
                    id=call.get("id", ""),
                    name=call["name"],
                    arguments=call.get("args", {}),
                    signature=signature,
                )
            )
        elif "functionResponse" in part:
            response = part["functionResponse"]
            result: Content = response["response"].get("result", "")
            nested = tuple(_decode_media(item) for item in response.get("parts", ()))
            if nested:
                result = (TextPart(text=str(result)), *nested) if result else nested
            results.append(
                Message(
                    role="tool",
                    content=result,
                    tool_call_id=response.get("id"),
                    name=response["name"],
                )
            )
        elif results and not parts and _is_media(part):
            # Media right after function responses belong to the last one (how the
            # adapter sends a tool result's media to models before Gemini 3).
            last = results[-1]
            text = (TextPart(text=last.content),) if isinstance(last.content, str) else ()
            media = _decode_media(part)
            previous = last.content if isinstance(last.content, tuple) else text
            results[-1] = last.model_copy(update={"content": (*previous, media)})
        elif part.get("thought"):
            parts.append(
                ReasoningPart(text=part.get("text", ""), signature=signature, provider="gemini")
            )
        elif "text" in part:
            parts.append(TextPart(text=part["text"], signature=signature))
        else:
            parts.append(_decode_media(part))
    role = "assistant" if content.get("role") == "model" else "user"
    if parts or calls:
        results.append(Message(role=role, content=_plain(parts), tool_calls=tuple(calls)))
    return results


def _plain(parts: list[Part]) -> Content:
    """Unsigned text parts alone read back as one string (how Aether sends plain text)."""
    if all(isinstance(part, TextPart) and part.signature is None for part in parts):
        return "".join(part.text for part in parts if isinstance(part, TextPart))
    return tuple(parts)


def _is_media(part: dict[str, Any]) -> bool:
    return any(key in part for key in ("inlineData", "inline_data", "fileData", "file_data"))


def _field(data: dict[str, Any], name: str) -> Any:
    """A field by its JSON name or its proto name: google-genai sends both spellings
    (``inlineData`` outside, ``mime_type`` inside), as proto3 JSON allows."""
    return data.get(name, data.get(_snake(name)))


def _decode_media(part: dict[str, Any]) -> Part:
    blob = _field(part, "inlineData")
    if blob is not None:
        media_type = _field(blob, "mimeType")
        cls = _MEDIA.get(media_type.split("/")[0], DocumentPart)
        return cls(data=blob["data"], media_type=media_type)
    file = _field(part, "fileData")
    if file is not None:
        media_type = _field(file, "mimeType")
        cls = _MEDIA.get((media_type or "").split("/")[0], DocumentPart)
        return cls(url=_field(file, "fileUri"), media_type=media_type)
    kind = next(iter(part))
    return ProviderPart(provider="gemini", kind=_snake(kind), data=part)


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


_MEDIA: dict[str, type[ImagePart | AudioPart]] = {"image": ImagePart, "audio": AudioPart}


GEMINI_WIRE = GeminiWire()
"""The Gemini wire format."""
