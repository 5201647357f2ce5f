"""A thinking + tools conversation on Anthropic, Gemini and OpenAI's Responses API survives
SQLite and Redis and another process: the next request there carries the signatures (the
Responses API's encrypted reasoning) back exactly.

This process gets the model's first turn (thinking with its signature, a tool call; on
Gemini a thought signature on the call too), stores the conversation, and computes the
next request's body; the other process, on the other async backend, loads the stored
conversation and sends the next request itself. Both bodies must be identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import pytest

from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import Message
from aether.llm.streaming import StreamAccumulator
from aether.testing.wire import MockServer, ScriptedReasoning, ScriptedReply, ScriptedToolCall
from tests.providers._reasoning_worker import WIRES, next_request_body, request_for

WORKER = Path(__file__).with_name("_reasoning_worker.py")
THINKING_SIGNATURE = "RXF0aGlua2luZy1zaWduYXR1cmUtMDAx"
CALL_SIGNATURE = "Y2FsbC1zaWduYXR1cmUtMDAx"
QUESTION = Message(role="user", content="What is aether?")


async def _conversation(wire: str, *, stream: bool) -> list[Message]:
    """The question, the model's first turn as it came, and the tool's result."""
    reply = ScriptedReply(
        reasoning=(ScriptedReasoning(text=("Look ", "it up."), signature=THINKING_SIGNATURE),),
        text=("Checking.",),
        tool_calls=(
            ScriptedToolCall("call_1", "lookup", ('{"word": "aether"}',), signature=CALL_SIGNATURE),
        ),
        finish_reason="tool_calls",
    )
    server = MockServer(WIRES[wire][0], [reply])
    provider = WIRES[wire][0].build_provider(server)
    request = request_for(wire, [QUESTION])
    try:
        if stream:
            accumulator = StreamAccumulator()
            async with aclosing(provider.stream(request)) as chunks:
                async for chunk in chunks:
                    accumulator.add(chunk)
            first = accumulator.response()
        else:
            first = await provider.complete(request)
    finally:
        await provider.aclose()
    result = Message(role="tool", content="the upper air", tool_call_id="call_1", name="lookup")
    return [QUESTION, first.message, result]


async def _store_and_expect(
    store: SQLiteSessionStore | RedisSessionStore,
) -> dict[str, dict[str, Any]]:
    """Store one conversation per wire; return each next request's body, by session."""
    expected = {}
    async with store:
        for wire, stream in (("anthropic", True), ("gemini", False), ("openai-responses", True)):
            history = await _conversation(wire, stream=stream)
            session = f"{wire}:{uuid.uuid4().hex}"
            await store.save(session.split(":", 1)[1], history)
            expected[session] = await next_request_body(wire, history)
    return expected


def _run_worker(arguments: list[str]) -> list[dict[str, Any]]:
    process = subprocess.run(
        [sys.executable, str(WORKER), "trio", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert process.returncode == 0, process.stderr
    return [json.loads(line) for line in process.stdout.splitlines()]


def _check_signatures(sessions: list[str], bodies: list[dict[str, Any]]) -> None:
    for session, body in zip(sessions, bodies, strict=True):
        if session.startswith("openai-responses"):
            # The encrypted reasoning goes back as it came, before the call it led to.
            assert body["input"][1:3] == [
                {
                    "type": "reasoning",
                    "id": "rs_scripted_0",
                    "summary": [{"type": "summary_text", "text": "Look it up."}],
                    "encrypted_content": THINKING_SIGNATURE,
                },
                {"role": "assistant", "content": "Checking."},
            ]
            assert body["input"][3]["call_id"] == "call_1"
        elif session.startswith("anthropic"):
            thinking = body["messages"][1]["content"][0]
            assert thinking == {
                "type": "thinking",
                "thinking": "Look it up.",
                "signature": THINKING_SIGNATURE,
            }
        else:
            parts = body["contents"][1]["parts"]
            assert parts[0] == {
                "text": "Look it up.",
                "thought": True,
                "thoughtSignature": THINKING_SIGNATURE,
            }
            assert parts[-1]["thoughtSignature"] == CALL_SIGNATURE


@pytest.mark.slow
def test_a_conversation_stored_in_sqlite_continues_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    expected = anyio.run(_store_and_expect, SQLiteSessionStore(path), backend="asyncio")
    sessions = list(expected)
    bodies = _run_worker(["sqlite", str(path), *sessions])
    assert bodies == list(expected.values())
    _check_signatures(sessions, bodies)


@pytest.mark.slow
@pytest.mark.redis
def test_a_conversation_stored_in_redis_continues_in_another_process(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    store = RedisSessionStore(redis_url, namespace=namespace)
    expected = anyio.run(_store_and_expect, store, backend="asyncio")
    sessions = list(expected)
    bodies = _run_worker(["redis", redis_url, namespace, *sessions])
    assert bodies == list(expected.values())
    _check_signatures(sessions, bodies)
