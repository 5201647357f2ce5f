"""OpenAI's Responses API wire format, for `MockServer`, the provider suite and benchmarks.

JSON bodies as ``POST /v1/responses`` returns them (a ``response`` object whose
``output`` holds reasoning items, with the scripted signature as their
``encrypted_content``, a message and function-call items), and SSE streams of typed
events as OpenAI documents them: ``response.created``, ``response.in_progress``, then per
output item ``response.output_item.added``, its deltas
(``response.reasoning_summary_text.delta``, ``response.output_text.delta``,
``response.function_call_arguments.delta``) and ``response.output_item.done``, and last
``response.completed`` or ``response.incomplete``: the only event with the usage. Each
event has an ``event:`` line naming its type and a ``sequence_number``; no ``[DONE]``.
Failures mid-stream are an ``error`` event, inside the 200 stream.

`OpenAIResponsesWire.body` and `OpenAIResponsesWire.events` render a `ScriptedReply`
alone, so the benchmark server (`benchmarks.mock_openai_server`) serves the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

from aether.llm.contracts import FinishReason
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
)
from aether.testing.wires._http import (
    fault_response,
    json_response,
    mock_transport,
    raise_if_transport_failure,
    request_json,
    sse_response,
)
from aether.testing.wires._responses_requests import InputDecoder
from aether.testing.wires.openai import error_response

__all__ = ["OPENAI_RESPONSES_WIRE", "OpenAIResponsesWire"]

_STATUS: dict[FinishReason, tuple[str, str | None]] = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
    "other": ("incomplete", "max_messages"),
}

_UNSUPPORTED = frozenset(
    {"stop", "audio", "audio_url", "video", "redacted_reasoning", "media_tokens"}
)


def _usage(usage: ScriptedUsage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _message_item(text: str, *, done: bool, refusal: bool = False) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "refusal", "refusal": text}
        if refusal
        else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    ]
    return {
        "id": "msg_scripted",
        "type": "message",
        "status": "completed" if done else "in_progress",
        "role": "assistant",
        "content": content if done else [],
    }


def _reasoning_item(number: int, reasoning: ScriptedReasoning, *, done: bool) -> dict[str, Any]:
    """A reasoning item: its summary and, once done, its encrypted content (the
    signature). As OpenAI documents, the item as added may lack the encrypted content."""
    item: dict[str, Any] = {"id": f"rs_scripted_{number}", "type": "reasoning", "summary": []}
    if done:
        if reasoning.text:
            item["summary"] = [{"type": "summary_text", "text": "".join(reasoning.text)}]
        if reasoning.signature is not None:
            item["encrypted_content"] = reasoning.signature
    return item


class _Events:
    """Numbers SSE events as the server sends them (``sequence_number``)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def add(self, kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": len(self.frames), **fields}
        self.frames.append(f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode())


class OpenAIResponsesWire:
    """Renders scripts as Responses API JSON and SSE; decodes ``/responses`` requests."""

    name = "openai-responses"
    api_key = "sk-test-responses-0123456789"
    escape_hatch: tuple[dict[str, Any], str, Any] = (
        {"truncation": "auto", "metadata": {"run": "7"}},
        "metadata.run",
        "7",
    )

    def build_provider(self, handler: Callable[[Any], Any], **options: Any) -> Any:
        from aether.extensions.llm.openai_responses import OpenAIResponsesProvider

        options.setdefault("api_key", self.api_key)
        return OpenAIResponsesProvider(transport=mock_transport(handler), **options)

    def supports(self, feature: str, mode: Mode) -> bool:
        # No stop sequences and no audio or video input on this wire; reasoning comes
        # encrypted (never redacted), and usage has no media token counts.
        return feature not in _UNSUPPORTED

    # -- answers ---------------------------------------------------------------------

    def render(self, item: Script, *, stream: bool, server: MockServer) -> Any:
        raise_if_transport_failure(item)
        if isinstance(item, Hang | ConnectionReset | TruncatedBody):
            reply = ScriptedReply(text=item.text)
            events = self._events(reply)
            return fault_response(
                item,
                stream=stream,
                server=server,
                events=events.frames,
                sent=self._text_end(events),
                body=json.dumps(self.body(reply)).encode(),
            )
        if isinstance(item, ScriptedError):
            return error_response(item)
        if isinstance(item, MalformedBody):
            if stream:
                return sse_response([b"event: response.created\ndata: {not json\n\n"], server)
            return json_response(200, item.body)
        if isinstance(item, BrokenStream | StalledStream | StreamErrorEvent):
            events = self._events(ScriptedReply(text=item.text))
            frames = events.frames[: self._text_end(events)]
            if isinstance(item, StreamErrorEvent):
                extra = _Events()
                extra.frames = list(frames)
                extra.add("error", code="server_error", message=item.message, param=None)
                frames = extra.frames
            return sse_response(frames, server, stall=isinstance(item, StalledStream))
        if not isinstance(item, ScriptedReply):
            raise TypeError(f"the OpenAI Responses wire cannot serve {item!r}")
        if stream:
            return sse_response(self.events(item), server)
        return json_response(200, self.body(item))

    def _output(self, reply: ScriptedReply) -> list[dict[str, Any]]:
        output = [
            _reasoning_item(number, reasoning, done=True)
            for number, reasoning in enumerate(reply.reasoning)
        ]
        if reply.text:
            output.append(_message_item("".join(reply.text), done=True))
        if reply.refusal:
            output.append(_message_item("".join(reply.refusal), done=True, refusal=True))
        for call in reply.tool_calls:
            output.append(self._call_item(call.id, call.name, call.argument_text, done=True))
        return output

    @staticmethod
    def _call_item(call_id: str, name: str, arguments: str, *, done: bool) -> dict[str, Any]:
        return {
            "id": f"fc_{call_id or 'scripted'}",
            "type": "function_call",
            "status": "completed" if done else "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": arguments if done else "",
        }

    def body(self, reply: ScriptedReply, *, output: bool = True) -> dict[str, Any]:
        """The ``response`` object answering with ``reply`` (a call's JSON body)."""
        status, reason = _STATUS[reply.finish_reason]
        return {
            "id": "resp_scripted",
            "object": "response",
            "created_at": 1_700_000_000,
            "status": status if output else "in_progress",
            "error": None,
            "incomplete_details": {"reason": reason} if reason and output else None,
            "instructions": None,
            "max_output_tokens": None,
            "model": reply.model,
            "output": self._output(reply) if output else [],
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": False,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": _usage(reply.usage) if output else None,
            "metadata": {},
        }

    def events(self, reply: ScriptedReply) -> list[bytes]:
        """The SSE frames of a stream answering with ``reply``."""
        return self._events(reply).frames

    def _events(self, reply: ScriptedReply) -> _Events:
        events = _Events()
        events.add("response.created", response=self.body(reply, output=False))
        events.add("response.in_progress", response=self.body(reply, output=False))
        index = 0
        for number, reasoning in enumerate(reply.reasoning):
            self._reasoning_events(events, index, number, reasoning)
            index += 1
        if reply.text:
            self._message_events(events, index, reply.text)
            index += 1
        if reply.refusal:
            self._refusal_events(events, index, reply.refusal)
            index += 1
        for call in reply.tool_calls:
            item = self._call_item(call.id, call.name, "", done=False)
            events.add("response.output_item.added", output_index=index, item=item)
            for fragment in call.arguments:
                events.add(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=index,
                    delta=fragment,
                )
            events.add(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=call.argument_text,
            )
            done = self._call_item(call.id, call.name, call.argument_text, done=True)
            events.add("response.output_item.done", output_index=index, item=done)
            index += 1
        status, _ = _STATUS[reply.finish_reason]
        events.add(f"response.{status}", response=self.body(reply))
        return events

    @staticmethod
    def _reasoning_events(
        events: _Events, index: int, number: int, reasoning: ScriptedReasoning
    ) -> None:
        added = _reasoning_item(number, reasoning, done=False)
        events.add("response.output_item.added", output_index=index, item=added)
        if reasoning.text:
            where = {"item_id": added["id"], "output_index": index, "summary_index": 0}
            empty = {"type": "summary_text", "text": ""}
            events.add("response.reasoning_summary_part.added", **where, part=empty)
            for text in reasoning.text:
                events.add("response.reasoning_summary_text.delta", **where, delta=text)
            whole = "".join(reasoning.text)
            events.add("response.reasoning_summary_text.done", **where, text=whole)
            events.add(
                "response.reasoning_summary_part.done", **where, part={**empty, "text": whole}
            )
        done = _reasoning_item(number, reasoning, done=True)
        events.add("response.output_item.done", output_index=index, item=done)

    @staticmethod
    def _message_events(events: _Events, index: int, texts: tuple[str, ...]) -> None:
        item_id = "msg_scripted"
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": []}
        events.add(
            "response.output_item.added", output_index=index, item=_message_item("", done=False)
        )
        events.add("response.content_part.added", **where, part=empty)
        for text in texts:
            events.add("response.output_text.delta", **where, delta=text, logprobs=[])
        whole = "".join(texts)
        events.add("response.output_text.done", **where, text=whole, logprobs=[])
        events.add("response.content_part.done", **where, part={**empty, "text": whole})
        events.add(
            "response.output_item.done", output_index=index, item=_message_item(whole, done=True)
        )

    @staticmethod
    def _refusal_events(events: _Events, index: int, texts: tuple[str, ...]) -> None:
        where = {"item_id": "msg_scripted", "output_index": index, "content_index": 0}
        events.add(
            "response.output_item.added", output_index=index, item=_message_item("", done=False)
        )
        for text in texts:
            events.add("response.refusal.delta", **where, delta=text)
        whole = "".join(texts)
        events.add("response.refusal.done", **where, refusal=whole)
        done = _message_item(whole, done=True, refusal=True)
        events.add("response.output_item.done", output_index=index, item=done)

    @staticmethod
    def _text_end(events: _Events) -> int:
        """How many frames come up to the last text delta (what a cut stream sends)."""
        marker = b"response.output_text.delta"
        ends = [number for number, frame in enumerate(events.frames) if marker in frame[:40]]
        return ends[-1] + 1 if ends else 2

    # -- requests --------------------------------------------------------------------

    def decode(self, request: httpx2.Request) -> WireRequest:
        body = request_json(request)
        system: list[str] = []
        if isinstance(body.get("instructions"), str):
            system.append(body["instructions"])
        items = body.get("input", [])
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        messages = InputDecoder(self.name).messages(items, system)
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            choice = choice.get("name")
        return WireRequest(
            path=request.url.path,
            stream=bool(body.get("stream")),
            model=body["model"],
            system="\n\n".join(system) if system else None,
            messages=messages,
            tools=tuple(
                WireTool(tool["name"], tool.get("description", ""), tool.get("parameters", {}))
                for tool in body.get("tools", [])
                if tool.get("type") == "function"
            ),
            tool_choice=choice,
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            max_tokens=body.get("max_output_tokens"),
            stop=None,
            body=body,
            headers=dict(request.headers),
        )


OPENAI_RESPONSES_WIRE = OpenAIResponsesWire()
"""The OpenAI Responses API wire format."""
