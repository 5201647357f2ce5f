"""Prebuilt Anthropic, Gemini and OpenAI Responses answers for the benchmark mock server.

The server (`benchmarks.mock_openai_server`) answers OpenAI's chat completions itself and
takes the Messages API, Gemini's ``generateContent`` and OpenAI's Responses API shapes
from here, so one local server process serves all four adapters. The Responses answers
are rendered by the provider suite's own wire format
(`aether.testing.wires.openai_responses`), so tests and benchmarks serve the same bytes.
Each answer is ``chunks`` words of ``WORD``, as JSON or as the vendor's SSE stream (each
event framed as one HTTP chunk), with usage.
The words cycle through a few distinct ones, as a model's tokens would: LiteLLM stops a
stream whose chunks repeat 100 times in a row, taking it for a model stuck in a loop.
"""

from __future__ import annotations

import functools
import json
from typing import Any

__all__ = [
    "ANTHROPIC_MODEL",
    "GEMINI_MODEL",
    "PROMPT_TOKENS",
    "RESPONSES_MODEL",
    "WORDS",
    "answer_text",
    "answer_words",
    "anthropic_body",
    "anthropic_events",
    "gemini_body",
    "gemini_events",
    "http_chunk",
    "responses_body",
    "responses_events",
]

WORDS = ("once ", "upon ", "a ", "time ", "there ", "was ", "word ")
PROMPT_TOKENS = 9
ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"
GEMINI_MODEL = "gemini-2.5-flash"
RESPONSES_MODEL = "gpt-4o-mini-2024-07-18"


@functools.cache
def answer_words(chunks: int) -> tuple[str, ...]:
    """The ``chunks`` words (stream deltas) of every answer."""
    return tuple(WORDS[index % len(WORDS)] for index in range(chunks))


def answer_text(chunks: int) -> str:
    """The whole text of an answer of ``chunks`` words."""
    return "".join(answer_words(chunks))


def http_chunk(payload: bytes) -> bytes:
    """``payload`` framed as one chunk of a chunked HTTP/1.1 body."""
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


def _framed(payloads: list[bytes]) -> tuple[bytes, ...]:
    return (*(http_chunk(payload) for payload in payloads), b"0\r\n\r\n")


# -- Anthropic Messages API -------------------------------------------------------------


def _anthropic_usage(output_tokens: int) -> dict[str, object]:
    return {
        "input_tokens": PROMPT_TOKENS,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def _anthropic_message(content: list[object], *, output_tokens: int) -> dict[str, object]:
    return {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _anthropic_usage(output_tokens),
    }


@functools.cache
def anthropic_body(chunks: int) -> bytes:
    """The JSON body of a non-streamed ``POST /v1/messages`` answer."""
    content = [{"type": "text", "text": answer_text(chunks)}]
    message = _anthropic_message(content, output_tokens=chunks)
    message["stop_reason"] = "end_turn"
    return json.dumps(message).encode()


def _anthropic_event(name: str, payload: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: ".encode() + json.dumps(payload).encode() + b"\n\n"


def _anthropic_delta(text: str) -> dict[str, object]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }


@functools.cache
def anthropic_events(chunks: int) -> tuple[bytes, ...]:
    """A streamed answer: message_start, one text block of ``chunks`` deltas, message_stop."""
    start = _anthropic_message([], output_tokens=1)
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": chunks},
    }
    payloads = [
        _anthropic_event("message_start", {"type": "message_start", "message": start}),
        _anthropic_event("content_block_start", block),
        _anthropic_event("ping", {"type": "ping"}),
        *(
            _anthropic_event("content_block_delta", _anthropic_delta(word))
            for word in answer_words(chunks)
        ),
        _anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _anthropic_event("message_delta", end),
        _anthropic_event("message_stop", {"type": "message_stop"}),
    ]
    return _framed(payloads)


# -- Gemini API -----------------------------------------------------------------------------


def _gemini_response(text: str, *, finish: bool, chunks: int) -> dict[str, object]:
    candidate: dict[str, object] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    response: dict[str, object] = {
        "candidates": [candidate],
        "modelVersion": GEMINI_MODEL,
        "responseId": "resp-mock",
    }
    if finish:
        candidate["finishReason"] = "STOP"
        response["usageMetadata"] = {
            "promptTokenCount": PROMPT_TOKENS,
            "candidatesTokenCount": chunks,
            "totalTokenCount": PROMPT_TOKENS + chunks,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
        }
    return response


@functools.cache
def gemini_body(chunks: int) -> bytes:
    """The JSON body of a non-streamed ``models/{model}:generateContent`` answer."""
    return json.dumps(_gemini_response(answer_text(chunks), finish=True, chunks=chunks)).encode()


@functools.cache
def gemini_events(chunks: int) -> tuple[bytes, ...]:
    """A ``streamGenerateContent?alt=sse`` answer: one event per word, the last finishing."""
    last = chunks - 1
    payloads = [
        b"data: "
        + json.dumps(_gemini_response(word, finish=index == last, chunks=chunks)).encode()
        + b"\r\n\r\n"
        for index, word in enumerate(answer_words(chunks))
    ]
    return _framed(payloads)


# -- OpenAI Responses API -------------------------------------------------------------------


def _responses_reply(chunks: int) -> Any:
    from aether.testing.wire import ScriptedReply, ScriptedUsage

    usage = ScriptedUsage(input_tokens=PROMPT_TOKENS, output_tokens=chunks)
    return ScriptedReply(text=answer_words(chunks), model=RESPONSES_MODEL, usage=usage)


@functools.cache
def responses_body(chunks: int) -> bytes:
    """The JSON body of a non-streamed ``POST /v1/responses`` answer."""
    from aether.testing.wires.openai_responses import OPENAI_RESPONSES_WIRE

    return json.dumps(OPENAI_RESPONSES_WIRE.body(_responses_reply(chunks))).encode()


@functools.cache
def responses_events(chunks: int) -> tuple[bytes, ...]:
    """A streamed answer: the typed events of one message of ``chunks`` text deltas."""
    from aether.testing.wires.openai_responses import OPENAI_RESPONSES_WIRE

    return _framed(OPENAI_RESPONSES_WIRE.events(_responses_reply(chunks)))
