"""The other process of the reasoning-session test: load stored conversations, send each
one's next request to a scripted server, print the JSON body the provider sent.

Usage: python _reasoning_worker.py BACKEND sqlite PATH WIRE:SESSION_ID...
       python _reasoning_worker.py BACKEND redis URL NAMESPACE WIRE:SESSION_ID...

Prints one line per session: the body, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import LLMRequest, Message, Tool
from aether.testing.wire import MockServer, ScriptedReply, WireFormat
from aether.testing.wires import ANTHROPIC_WIRE, GEMINI_WIRE, OPENAI_RESPONSES_WIRE

WIRES: dict[str, tuple[WireFormat, str]] = {
    "anthropic": (ANTHROPIC_WIRE, "claude-sonnet-4-5"),
    "gemini": (GEMINI_WIRE, "gemini-2.5-flash"),
    "openai-responses": (OPENAI_RESPONSES_WIRE, "o4-mini"),
}

LOOKUP = Tool(
    name="lookup",
    description="Look a word up.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}},
)


def request_for(wire: str, messages: Sequence[Message]) -> LLMRequest:
    """The request both processes send: the conversation, the tool, thinking on."""
    model = WIRES[wire][1]
    return LLMRequest(messages=tuple(messages), model=model, tools=(LOOKUP,), reasoning="low")


async def next_request_body(wire: str, messages: Sequence[Message]) -> dict[str, Any]:
    """The JSON body the provider sends to continue ``messages``."""
    server = MockServer(WIRES[wire][0], [ScriptedReply(text=("It is the upper air.",))])
    provider = WIRES[wire][0].build_provider(server)
    try:
        await provider.complete(request_for(wire, messages))
    finally:
        await provider.aclose()
    return server.last.body


async def main(kind: str, arguments: list[str]) -> None:
    store: SQLiteSessionStore | RedisSessionStore
    if kind == "sqlite":
        path, *sessions = arguments
        store = SQLiteSessionStore(path)
    else:
        url, namespace, *sessions = arguments
        store = RedisSessionStore(url, namespace=namespace)
    async with store:
        for item in sessions:
            wire, session_id = item.split(":", 1)
            history = await store.load(session_id)
            print(json.dumps(await next_request_body(wire, history)), flush=True)


if __name__ == "__main__":
    backend, store_kind, *rest = sys.argv[1:]
    anyio.run(main, store_kind, rest, backend=backend)
    # Everything is closed and printed: skip tearing down two SDKs' module graphs, which
    # takes longer than the work itself on a busy machine.
    sys.stdout.flush()
    os._exit(0)
