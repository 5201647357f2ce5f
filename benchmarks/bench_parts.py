"""What a 1 MB image costs to build and to send, against the base64 it must become."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aether.llm.contracts import ImagePart, LLMRequest, Message
from benchmarks._harness import BACKENDS, CPU_CLOCK, Row, cli, measure, overhead

TITLE = "Content parts: building and sending a 1 MB image"
NOTES = """
A 1 MB PNG (its header, then random bytes) in one user message. "base64" is
`base64.b64encode` of the bytes: the floor, since every wire carries media as base64 text.
"build" is `ImagePart(data=...)` (the media type sniffed from the first bytes and checked;
the bytes are not copied). The "send" rows are `provider.complete` of a request holding
the image minus the same request with text only, through each vendor's SDK to an
`httpx2.MockTransport` that answers at once without reading the body: what the image adds
to a call (the base64 text, the data URL or block around it, the SDK's JSON encoding of
the body and httpx's bytes). The ratio is to the base64 row of the same backend. CPU
time, medians of 5 runs (sends: of differences between alternating runs).
"""

SIZE = 1 << 20

Body = Callable[[int], Awaitable[None]]


def _image_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(SIZE - 8)


def _encode_body(data: bytes) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            base64.b64encode(data)

    return body


def _build_body(data: bytes) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            ImagePart(data=data)

    return body


_ANSWERS: dict[str, dict[str, Any]] = {
    "openai": {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    "anthropic": {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
    "gemini": {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1},
    },
}


def _provider(name: str) -> Any:
    import httpx2

    from aether.extensions.llm.anthropic import AnthropicProvider
    from aether.extensions.llm.gemini import GeminiProvider
    from aether.extensions.llm.openai import OpenAIProvider

    answer = _ANSWERS[name]

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=answer)

    transport = httpx2.MockTransport(handler)
    classes = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider}
    return classes[name](api_key="bench-key", transport=transport)


def _send_body(name: str, request: LLMRequest) -> Body:
    provider = _provider(name)

    async def body(n: int) -> None:
        for _ in range(n):
            await provider.complete(request)

    return body


def run(quick: bool) -> list[Row]:
    data = _image_bytes()
    image = ImagePart(data=data)
    text = LLMRequest(messages=(Message(role="user", content="What is this?"),))
    with_image = LLMRequest(messages=(Message(role="user", content=("What is this?", image)),))
    iterations = 3 if quick else 20
    repeats = 1 if quick else 5
    rows: list[Row] = []
    for backend in BACKENDS:
        floor = measure(
            _encode_body(data),
            iterations=iterations,
            repeats=repeats,
            backend=backend,
            clock=CPU_CLOCK,
        )
        rows.append(Row("base64.b64encode, 1 MB (the floor)", backend, floor, "s", "", 1.0))
        built = measure(
            _build_body(data),
            iterations=iterations * 50,
            repeats=repeats,
            backend=backend,
            clock=CPU_CLOCK,
        )
        rows.append(Row("build: ImagePart(data=1 MB)", backend, built, "s", "", built / floor))
        for name in ("openai", "anthropic", "gemini"):
            extra = overhead(
                _send_body(name, with_image),
                _send_body(name, text),
                iterations=iterations,
                repeats=repeats,
                backend=backend,
            )
            rows.append(
                Row(
                    f"send: {name}, the image's share of a call",
                    backend,
                    extra,
                    "s",
                    "",
                    extra / floor,
                )
            )
    return rows


if __name__ == "__main__":
    cli(run)
