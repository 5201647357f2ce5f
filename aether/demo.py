"""The demo: a stream, an event subscriber, a tool call and the usage line.

Runs on the provider ``LLM_PROVIDER`` names; with no provider chosen and no
``OPENAI_API_KEY``, it runs on the Fake provider so it works on a fresh machine.
"""

from __future__ import annotations

import os

import anyio

import aether.extensions.tools  # noqa: F401 - registers get_current_time, http_get, read_file
from aether import Aether, LLMRequest, LLMResponse, ToolCall
from aether.events import (
    REQUEST_COMPLETE,
    STREAM_COMPLETE,
    TOOL_COMPLETE,
    RequestComplete,
    StreamComplete,
    ToolComplete,
)
from aether.extensions.llm.fake import FakeProvider


def _fake_model_calling_a_tool(request: LLMRequest) -> LLMResponse | str:
    """Play a model's part for the Fake provider: call get_current_time, then answer."""
    if request.messages[-1].role == "tool":
        return f"In Tokyo it is {request.messages[-1].content}."
    call = ToolCall(id="t1", name="get_current_time", arguments={"timezone": "Asia/Tokyo"})
    return LLMResponse(text="", model="fake-model", tool_calls=(call,))


async def run() -> None:
    """Ask once, stream once, and print what the events and usage say."""
    if not os.environ.get("LLM_PROVIDER") and not os.environ.get("OPENAI_API_KEY"):
        os.environ["LLM_PROVIDER"] = "fake"
        print("(no LLM_PROVIDER or OPENAI_API_KEY set: using the Fake provider)\n")

    async with Aether() as client:
        print(f"client: {client!r}\n")

        @client.on(REQUEST_COMPLETE)
        def log_request(event: RequestComplete) -> None:
            print(
                f"  [event] request.complete model={event.response.model} "
                f"tokens={event.response.input_tokens}+{event.response.output_tokens} "
                f"in {event.duration_seconds * 1000:.1f} ms"
            )

        @client.on(STREAM_COMPLETE)
        async def log_stream(event: StreamComplete) -> None:
            print(
                f"\n  [event] stream.complete chunks={event.chunks} "
                f"tokens={event.input_tokens}+{event.output_tokens}"
            )

        answer = await client.ask("What is the meaning of life?")
        print(f"ask → {answer}\n")

        print("stream_text → ", end="", flush=True)
        async for delta in client.stream_text("Tell me a story"):
            print(delta, end="", flush=True)
        print()

        @client.on(TOOL_COMPLETE)
        def log_tool(event: ToolComplete) -> None:
            print(f"  [event] tool.complete {event.call.name}({event.call.arguments})")

        if isinstance(client.provider, FakeProvider):
            client.provider.responder = _fake_model_calling_a_tool
        answer = await client.ask("What time is it in Tokyo?", tools=["get_current_time"])
        print(f"ask with tools → {answer}")

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
