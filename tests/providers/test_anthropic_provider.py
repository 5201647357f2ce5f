"""Anthropic specifics: the Messages JSON sent, cache accounting, stream events, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
import pytest

from aether.errors import ConfigurationError, ServerError
from aether.extensions.llm.anthropic import AnthropicProvider
from aether.llm.contracts import LLMRequest, Message, Tool, ToolCall
from aether.testing.wire import MockServer, ScriptedError, ScriptedReply
from aether.testing.wires import ANTHROPIC_WIRE

# Marked here as well as by the conftest: anyio's plugin rebuilds late-marked async tests
# with the backend as their only parameter, dropping any parametrize.
pytestmark = pytest.mark.anyio


ADD = Tool(name="add", description="Add.", parameters={"type": "object", "properties": {}})


def _serve(*script: Any, **options: Any) -> tuple[AnthropicProvider, MockServer]:
    server = MockServer(ANTHROPIC_WIRE, script)
    return ANTHROPIC_WIRE.build_provider(server, **options), server


def _literal(status: int, body: object, *, stream: bool = False) -> AnthropicProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if stream:
            assert isinstance(body, list)
            events = b"".join(
                f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in body
            )
            return httpx2.Response(
                status, headers={"content-type": "text/event-stream"}, content=events
            )
        return httpx2.Response(status, json=body)

    return AnthropicProvider(api_key="sk-ant-x", transport=httpx2.MockTransport(handler))


async def test_request_body_matches_the_messages_format() -> None:
    provider, server = _serve(ScriptedReply(text=("42",)))
    messages = (
        Message(role="system", content="Be terse."),
        Message(role="system", content="Use digits."),
        Message(role="user", content="What's 17+25 and 1+1?"),
        Message(
            role="assistant",
            content="Adding.",
            tool_calls=(
                ToolCall(id="toolu_1", name="add", arguments={"a": 17, "b": 25}),
                ToolCall(id="toolu_2", name="add", arguments={"a": 1, "b": 1}),
            ),
        ),
        Message(role="tool", content="42", tool_call_id="toolu_1", name="add"),
        Message(role="tool", content="2", tool_call_id="toolu_2", name="add"),
        Message(role="user", content="Thanks."),
    )
    request = LLMRequest(
        messages=messages, stop=("END",), tools=(ADD,), tool_choice="required", temperature=0.3
    )
    await provider.complete(request)
    assert server.last.body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "messages": [
            {"role": "user", "content": "What's 17+25 and 1+1?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Adding."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "add",
                        "input": {"a": 17, "b": 25},
                    },
                    {"type": "tool_use", "id": "toolu_2", "name": "add", "input": {"a": 1, "b": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "2"},
                    {"type": "text", "text": "Thanks."},
                ],
            },
        ],
        "temperature": 0.3,
        "system": "Be terse.\n\nUse digits.",
        "stop_sequences": ["END"],
        "tools": [
            {
                "name": "add",
                "description": "Add.",
                "input_schema": {"type": "object", "properties": {}},
            }
        ],
        "tool_choice": {"type": "any"},
    }
    assert server.last.path == "/v1/messages"
    await provider.aclose()


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("add", {"type": "tool", "name": "add"}),
    ],
)
async def test_tool_choice_is_mapped(choice: str, wire: dict[str, str]) -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)))
    await provider.complete(
        LLMRequest(messages=(Message(role="user", content="x"),), tools=(ADD,), tool_choice=choice)
    )
    assert server.last.body["tool_choice"] == wire
    await provider.aclose()


async def test_max_tokens_comes_from_the_request_or_the_provider_default() -> None:
    provider, server = _serve(
        ScriptedReply(text=("ok",)), ScriptedReply(text=("ok",)), default_max_tokens=512
    )
    request = LLMRequest(messages=(Message(role="user", content="x"),))
    await provider.complete(request)
    await provider.complete(request.model_copy(update={"max_tokens": 64}))
    assert [sent.body["max_tokens"] for sent in server.requests] == [512, 64]
    await provider.aclose()


async def test_escape_hatch_can_send_what_the_common_request_cannot() -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)))
    options = {"anthropic": {"thinking": {"type": "adaptive"}, "top_k": 5}}
    await provider.complete(
        LLMRequest(messages=(Message(role="user", content="x"),), provider_options=options)
    )
    assert (server.last.body["thinking"], server.last.body["top_k"]) == ({"type": "adaptive"}, 5)
    await provider.aclose()


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
        {"type": "text", "text": "Hello."},
    ],
    "stop_reason": "end_turn",
    "usage": {
        "input_tokens": 5,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2000,
        "output_tokens": 30,
        "output_tokens_details": {"thinking_tokens": 12},
    },
}


async def test_cache_reads_and_writes_are_added_to_input_tokens() -> None:
    provider = _literal(200, MESSAGE)
    response = await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),)))
    counts = (
        response.input_tokens,
        response.cached_input_tokens,
        response.cache_write_tokens,
        response.output_tokens,
        response.reasoning_tokens,
    )
    assert counts == (2105, 2000, 100, 30, 12)
    assert (response.text, response.model) == ("Hello.", "claude-haiku-4-5-20251001")
    await provider.aclose()


async def test_stream_takes_cumulative_usage_from_message_delta() -> None:
    start = {**MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {**MESSAGE["usage"], "output_tokens": 1}  # type: ignore[dict-item]
    events = [
        {"type": "message_start", "message": start},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Hmm."},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "refusal"},
            "usage": {"output_tokens": 40, "cache_read_input_tokens": 2500},
        },
        {"type": "message_stop"},
    ]
    provider = _literal(200, events, stream=True)
    chunks = [
        c async for c in provider.stream(LLMRequest(messages=(Message(role="user", content="x"),)))
    ]
    final = chunks[-1]
    assert [(chunk.kind, chunk.text, chunk.reasoning) for chunk in chunks[:-1]] == [
        ("reasoning", "", "Hmm."),
        ("text", "Hi", ""),
    ]
    assert (final.finish_reason, final.output_tokens, final.cached_input_tokens) == (
        "content_filter",
        40,
        2500,
    )
    assert final.input_tokens == 5 + 100 + 2500
    await provider.aclose()


async def test_overloaded_529_is_a_server_error() -> None:
    provider, _ = _serve(ScriptedError(529, "Overloaded"))
    with pytest.raises(ServerError) as raised:
        await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),)))
    assert (raised.value.status_code, raised.value.retryable) == (529, True)
    await provider.aclose()


async def test_sampling_parameters_set_by_the_call_are_sent() -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)))
    await provider.complete(
        LLMRequest(messages=(Message(role="user", content="x"),), temperature=0.1, top_p=0.5)
    )
    assert (server.last.body["temperature"], server.last.body["top_p"]) == (0.1, 0.5)
    await provider.aclose()


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider()


async def test_a_plain_httpx_client_is_refused_with_a_hint() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConfigurationError, match="httpx2"):
            AnthropicProvider(api_key="sk-ant-x", http_client=client)


def test_sdk_is_exposed_with_its_retries_off() -> None:
    provider = AnthropicProvider(api_key="sk-ant-secret")
    assert (type(provider.sdk).__name__, provider.sdk.max_retries) == ("AsyncAnthropic", 0)
    assert "sk-ant-secret" not in repr(provider)
