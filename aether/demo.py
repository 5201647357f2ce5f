"""The demo: an answer, a question about an image, a stream, a tool call inside a stream,
events and the usage line.

Runs on the provider ``LLM_PROVIDER`` names; with no provider chosen and no
``OPENAI_API_KEY``, it runs on the Fake provider so it works on a fresh machine.
"""

from __future__ import annotations

import os
import struct
import zlib

import anyio

from aether import Aether, ImagePart, register_tool
from aether.events import (
    REQUEST_COMPLETE,
    STREAM_COMPLETE,
    TOOL_COMPLETE,
    RequestComplete,
    StreamComplete,
    ToolComplete,
)


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def gradient_png(size: int = 16) -> bytes:
    """A small, valid PNG (a grey gradient), built here so the demo needs no file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + bytes(range(0, 256, 256 // size))[:size] for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def run() -> None:
    """Ask once, stream twice (the second time with a tool), print events and usage."""
    if not os.environ.get("LLM_PROVIDER") and not os.environ.get("OPENAI_API_KEY"):
        os.environ["LLM_PROVIDER"] = "fake"
        print("(no LLM_PROVIDER or OPENAI_API_KEY set: using the Fake provider)\n")

    async with Aether() as client:
        print(f"client: {client!r}\n")

        def log_request(event: RequestComplete) -> None:
            print(
                f"  [event] request.complete model={event.response.model} "
                f"tokens={event.tokens.input}+{event.tokens.output} "
                f"in {event.duration_seconds * 1000:.1f} ms"
            )

        @client.on(STREAM_COMPLETE)
        async def log_stream(event: StreamComplete) -> None:
            print(
                f"\n  [event] stream.complete chunks={event.chunks} "
                f"tokens={event.tokens.input}+{event.tokens.output}"
            )

        @client.on(TOOL_COMPLETE)
        def log_tool(event: ToolComplete) -> None:
            print(f"\n  [event] tool.complete {event.call.name} → {event.result.content}")

        client.on(REQUEST_COMPLETE, log_request)
        answer = await client.ask("What is the meaning of life?")
        print(f"ask → {answer}\n")
        image = ImagePart(data=gradient_png())
        print(f"an image part: {image!r}")
        answer = await client.ask(["What is in this picture? Answer in one line.", image])
        print(f"ask with an image → {answer}\n")
        client.events.off(REQUEST_COMPLETE, log_request)

        print("stream_text → ", end="", flush=True)
        async for delta in client.stream_text("Tell me a story"):
            print(delta, end="", flush=True)

        register_tool(description="Add two numbers")(add)
        print("\nstream with tools → ", end="", flush=True)
        async for chunk in client.stream("What's 17+25?", tools=["add"]):
            if chunk.kind == "tool_call" and chunk.tool_call is not None:
                print(f" [calling {chunk.tool_call.name}({chunk.tool_call.arguments})]", end="")
            print(chunk.text, end="", flush=True)

        usage = client.usage
        print(
            f"\nusage: {usage.total_requests} requests, {usage.total_input_tokens} input "
            f"and {usage.total_output_tokens} output tokens, "
            f"spent ${usage.total_cost_usd:.6f}"
        )


def main() -> None:
    """Entry point of ``python -m aether``."""
    anyio.run(run)


if __name__ == "__main__":
    main()
