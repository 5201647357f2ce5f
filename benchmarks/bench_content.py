"""Content parts: what a 1 MB image costs on Aether's own path, against base64 itself."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable

from aether import ImagePart, LLMRequest, Message
from aether.memory.codec import decode_message, encode_message
from aether.middleware.cache import CacheMiddleware
from benchmarks._harness import CPU_CLOCK, Row, cli, measure

__all__ = ["NOTES", "TITLE", "run"]

TITLE = "Content parts: a 1 MB image on Aether's own path"
NOTES = """
What Aether itself does with a 1 MB image (a PNG header and random bytes), outside the
provider adapters (the adapter side is in the OpenAI section and the providers' docs): the
ratio is each case over `base64.b64encode` of the same bytes, which every wire needs once
anyway (reading a stored record is compared with `base64.b64decode` instead, as the note
says). Building the part (its media type read from the first bytes and checked), the
message and the request copies nothing: they cost microseconds whatever the size. The
cache key hashes the bytes with SHA-256 (once per part object: "again" is a request
holding the same part, as a session's history does on every turn) and never copies them
into the key's JSON. Storing the message in a session (`aether.memory.codec`) is the base64
encoding written by pydantic-core; reading it back is the base64 decoding, with the JSON
around it. CPU time, median of 5 runs after a warm-up.
"""

SIZE = 1_000_000
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def _timed(operation: Callable[[], object]) -> Callable[[int], Awaitable[None]]:
    async def body(n: int) -> None:
        for _ in range(n):
            operation()

    return body


def run(quick: bool) -> list[Row]:
    data = PNG_HEADER + os.urandom(SIZE - len(PNG_HEADER))
    part = ImagePart(data=data)
    message = Message(role="user", content=["What is in this picture?", part])
    request = LLMRequest(messages=(message,), model="gpt-4o-mini")
    record = encode_message(message)
    cache = CacheMiddleware(provider="openai")

    def fresh_key() -> str:
        # A new part object each time, so the digest is computed, not remembered.
        new_part = ImagePart(data=data)
        new_message = Message(role="user", content=["What is in this picture?", new_part])
        return cache.key(LLMRequest(messages=(new_message,), model="gpt-4o-mini"), stream=False)

    encoded = base64.b64encode(data)
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("base64.b64encode (the reference)", lambda: base64.b64encode(data), 20),
        ("base64.b64decode (the reference for reading)", lambda: base64.b64decode(encoded), 20),
        ("ImagePart(data=...)", lambda: ImagePart(data=data), 2_000),
        (
            "Message with the part",
            lambda: Message(role="user", content=["What is in this picture?", part]),
            2_000,
        ),
        ("LLMRequest with the message", lambda: LLMRequest(messages=(message,)), 2_000),
        ("cache key, first time (SHA-256)", fresh_key, 20),
        ("cache key, again (digest remembered)", lambda: cache.key(request, stream=False), 2_000),
        ("session record: encode_message", lambda: encode_message(message), 20),
        ("session record: decode_message", lambda: decode_message("s", record), 20),
    ]
    values: dict[str, float] = {}
    for label, operation, iterations in cases:
        count = max(1, iterations // 10) if quick else iterations
        values[label] = measure(_timed(operation), iterations=count, clock=CPU_CLOCK)
    encoding, decoding = (values[label] for label, _, _ in cases[:2])
    rows: list[Row] = []
    for label, value in values.items():
        note, reference = "", encoding
        if label.startswith("session record: en"):
            note = f"{len(record):,} B stored"
        elif "decode" in label:
            note, reference = "ratio over b64decode", decoding
        rows.append(Row(label, "-", value, "s", note, ratio=value / reference))
    return rows


if __name__ == "__main__":
    cli(run)
