"""What a 1 MB image adds to a call through each provider adapter and its vendor SDK."""

from __future__ import annotations

import base64
import os
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from aether.llm.contracts import ImagePart, LLMRequest, Message
from benchmarks._harness import BACKENDS, CPU_CLOCK, Row, cli, measure

TITLE = "Media on the wire: a 1 MB image through each provider adapter"
NOTES = """
The adapter side of a 1 MB image (a PNG header, then random bytes) in one user message;
Aether's own path (building the part, the cache key, sessions) is in the content section.
"base64" is `base64.b64encode` of the bytes: the floor, since every wire carries media as
base64 text. Each "send" row is `provider.complete` of a request holding the image minus
the same request with text only, through the vendor's SDK to an `httpx2.MockTransport`
that answers at once without reading the body: what the image adds to a call (its base64
text, the data URL or block around it, the JSON of the body, httpx's bytes). The OpenAI and
Anthropic adapters write the JSON themselves and splice the base64 bytes into it, one copy
(`aether/extensions/llm/_json_body.py`); google-genai encodes the bytes (URL-safe base64,
then a translation) and the body (`json.dumps`) itself, which Aether does not control.
The ratio is the median over rounds of the send over the base64 of the same round (each
round alternates them, so the machine's drift cancels out). CPU time, medians of 5
rounds.
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


def _once(body: Body, iterations: int, backend: str) -> float:
    return measure(body, iterations=iterations, repeats=1, backend=backend, clock=CPU_CLOCK)


def run(quick: bool) -> list[Row]:
    data = _image_bytes()
    image = ImagePart(data=data)
    text = LLMRequest(messages=(Message(role="user", content="What is this?"),))
    with_image = LLMRequest(messages=(Message(role="user", content=("What is this?", image)),))
    iterations = 3 if quick else 20
    repeats = 1 if quick else 5
    encode = _encode_body(data)
    rows: list[Row] = []
    for backend in BACKENDS:
        floors: list[float] = []
        for name in ("openai", "anthropic", "gemini"):
            case, base = _send_body(name, with_image), _send_body(name, text)
            extras, ratios = [], []
            for _ in range(repeats):  # alternating, so drift between runs cancels out
                floor = _once(encode, iterations, backend)
                extra = _once(case, iterations, backend) - _once(base, iterations, backend)
                floors.append(floor)
                extras.append(extra)
                ratios.append(extra / floor)
            rows.append(
                Row(
                    f"send: {name}, the image's share of a call",
                    backend,
                    statistics.median(extras),
                    "s",
                    "",
                    statistics.median(ratios),
                )
            )
        floor_row = Row(
            "base64.b64encode, 1 MB (the floor)", backend, statistics.median(floors), "s", "", 1.0
        )
        rows.insert(len(rows) - 3, floor_row)
    return rows


if __name__ == "__main__":
    cli(run)
