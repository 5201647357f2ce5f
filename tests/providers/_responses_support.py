"""Literal Responses API answers for the adapter's own tests, served through the real SDK.

`RawServer` answers each request with the next literal answer: a dict is a JSON body,
a list of event dicts an SSE stream (each with its ``event:`` line and a
``sequence_number``, as OpenAI sends them, one event per read), and records the JSON
bodies it received.
The awkward parts of the wire, built from OpenAI's documentation, live here as builders.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from aether.extensions.llm.openai_responses import OpenAIResponsesProvider
from aether.testing.wires import OPENAI_RESPONSES_WIRE

KEY = OPENAI_RESPONSES_WIRE.api_key
ENCRYPTED = "gAAAAABo-encrypted-reasoning-0001"


class _Frames(httpx2.AsyncByteStream):
    """A body delivering one SSE frame per read, as a server flushing each event does."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            yield frame


class RawServer:
    """Serves literal answers in order; ``bodies`` holds the requests' JSON."""

    def __init__(self, *answers: dict[str, Any] | list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        answer = self.answers.pop(0)
        if isinstance(answer, dict):
            return httpx2.Response(200, json=answer)
        frames = [
            f"event: {event['type']}\ndata: "
            f"{json.dumps({**event, 'sequence_number': number})}\n\n".encode()
            for number, event in enumerate(answer)
        ]
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_Frames(frames)
        )

    @property
    def last(self) -> dict[str, Any]:
        return self.bodies[-1]

    def provider(self, **options: Any) -> OpenAIResponsesProvider:
        options.setdefault("api_key", KEY)
        return OpenAIResponsesProvider(transport=httpx2.MockTransport(self), **options)


def usage(
    input_tokens: int = 20, output_tokens: int = 10, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def response(
    *output: dict[str, Any],
    status: str = "completed",
    reason: str | None = None,
    model: str = "o4-mini-2025-04-16",
    response_id: str = "resp_001",
    used: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1_750_000_000,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "model": model,
        "output": list(output),
        "usage": used if used is not None else usage(),
    }


def message(text: str, *, annotations: list[Any] | None = None) -> dict[str, Any]:
    content = {"type": "output_text", "text": text, "annotations": annotations or []}
    return {
        "id": "msg_001",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [content],
    }


def reasoning(
    *summary: str, item_id: str = "rs_001", encrypted: str | None = ENCRYPTED
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text} for text in summary],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"fc_{call_id}",
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


WEB_SEARCH = {
    "id": "ws_001",
    "type": "web_search_call",
    "status": "completed",
    "action": {"type": "search", "query": "aether etymology"},
}
CITED = message(
    "Aether is the upper air [1].",
    annotations=[
        {
            "type": "url_citation",
            "start_index": 25,
            "end_index": 28,
            "url": "https://example.org/aether",
            "title": "Aether",
        }
    ],
)


def stream_of(final: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    """A stream: created, the given delta events, each output item's done event, final."""
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": created}]
    events += deltas
    events += [
        {"type": "response.output_item.done", "output_index": index, "item": item}
        for index, item in enumerate(final["output"])
    ]
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events.append({"type": kind, "response": final})
    return events


def text_delta(text: str, index: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "item_id": "msg_001",
        "output_index": index,
        "content_index": 0,
        "delta": text,
        "logprobs": [],
    }


def summary_delta(text: str, summary_index: int = 0, item_id: str = "rs_001") -> dict[str, Any]:
    return {
        "type": "response.reasoning_summary_text.delta",
        "item_id": item_id,
        "output_index": 0,
        "summary_index": summary_index,
        "delta": text,
    }
