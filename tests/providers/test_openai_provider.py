"""OpenAI specifics: the exact JSON sent, compatible-server quirks, lifecycle and keys."""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
import pytest

from aether.errors import ConfigurationError, ContentFilterError
from aether.extensions.llm.openai import OpenAIProvider
from aether.llm.contracts import LLMRequest, Message, Tool, ToolCall
from aether.testing.wire import MockServer, ScriptedReply, ScriptedToolCall
from aether.testing.wires import OPENAI_WIRE

# Marked here as well as by the conftest: anyio's plugin rebuilds late-marked async tests
# with the backend as their only parameter, dropping any parametrize.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]


ADD = Tool(name="add", description="Add.", parameters={"type": "object", "properties": {}})


def _serve(*script: Any, **options: Any) -> tuple[OpenAIProvider, MockServer]:
    server = MockServer(OPENAI_WIRE, script)
    return OPENAI_WIRE.build_provider(server, **options), server


def _raw_server(*bodies: dict[str, Any], stream: bool = False) -> tuple[list[Any], Any]:
    """A handler serving literal JSON bodies (or SSE events), recording requests."""
    seen: list[Any] = []
    queue = list(bodies)

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if stream:
            events = b"".join(b"data: " + json.dumps(body).encode() + b"\n\n" for body in queue)
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=events
            )
        return httpx2.Response(200, json=queue.pop(0))

    return seen, handler


HISTORY = (
    Message(role="system", content="Be terse."),
    Message(role="user", content="What's 17+25?"),
    Message(
        role="assistant",
        content="",
        tool_calls=(ToolCall(id="call_1", name="add", arguments={"a": 17, "b": 25}),),
    ),
    Message(role="tool", content="42", tool_call_id="call_1", name="add"),
)


async def test_request_body_matches_the_chat_completions_format() -> None:
    provider, server = _serve(ScriptedReply(text=("42",)))
    request = LLMRequest(
        messages=HISTORY,
        model="gpt-4o-mini",
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        stop=("END",),
        tools=(ADD,),
        tool_choice="add",
    )
    await provider.complete(request)
    assert server.last.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "What's 17+25?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a":17,"b":25}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 100,
        "stop": ["END"],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "parameters": {"type": "object", "properties": {}},
                    "description": "Add.",
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "add"}},
    }
    assert server.last.path == "/v1/chat/completions"
    assert server.last.headers["authorization"] == f"Bearer {OPENAI_WIRE.api_key}"
    await provider.aclose()


async def test_stream_asks_for_usage_on_the_final_chunk() -> None:
    provider, server = _serve(ScriptedReply(text=("hi",)))
    async for _ in provider.stream(LLMRequest(messages=(Message(role="user", content="x"),))):
        pass
    assert (server.last.body["stream"], server.last.body["stream_options"]) == (
        True,
        {"include_usage": True},
    )
    await provider.aclose()


async def test_escape_hatch_merges_nested_options_and_routes_sdk_knobs() -> None:
    provider, server = _serve(ScriptedReply(text=("hi",)))
    options = {
        "openai": {
            "stream_options": {"include_obfuscation": False},
            "extra_headers": {"X-Trace": "t-1"},
            "extra_query": {"api-version": "2025"},
            "extra_body": {"reasoning_effort": "low"},
        }
    }
    request = LLMRequest(messages=(Message(role="user", content="x"),), provider_options=options)
    async for _ in provider.stream(request):
        pass
    sent = server.last
    assert sent.body["stream_options"] == {"include_usage": True, "include_obfuscation": False}
    assert sent.body["reasoning_effort"] == "low"
    assert "extra_headers" not in sent.body
    assert "extra_body" not in sent.body
    assert sent.headers["x-trace"] == "t-1"
    await provider.aclose()


async def test_compatible_servers_get_max_tokens() -> None:
    provider, server = _serve(ScriptedReply(text=("hi",)), base_url="http://localhost:11434/v1")
    await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),), max_tokens=9))
    assert (server.last.body.get("max_tokens"), "max_completion_tokens" in server.last.body) == (
        9,
        False,
    )
    await provider.aclose()


async def test_raw_tool_arguments_are_sent_back_as_they_came() -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)))
    call = ToolCall(id="c1", name="add", raw_arguments='{"a": 1')
    messages = (
        Message(role="user", content="x"),
        Message(role="assistant", tool_calls=(call,)),
        Message(role="tool", content="error: bad JSON", tool_call_id="c1"),
    )
    await provider.complete(LLMRequest(messages=messages))
    assert server.last.body["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"a": 1'
    await provider.aclose()


async def test_stop_with_tool_calls_is_normalised_to_tool_calls() -> None:
    body = {
        "model": "llama3.2",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "add", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "stop",
            }
        ],
    }
    _, handler = _raw_server(body)
    provider = OpenAIProvider(
        base_url="http://ollama:11434/v1", transport=httpx2.MockTransport(handler)
    )
    response = await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),)))
    assert (response.finish_reason, response.input_tokens) == ("tool_calls", 0)
    await provider.aclose()


async def test_refusal_becomes_text_with_content_filter() -> None:
    body = {
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ],
    }
    _, handler = _raw_server(body)
    provider = OpenAIProvider(api_key="sk-x", transport=httpx2.MockTransport(handler))
    response = await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),)))
    assert (response.text, response.finish_reason) == ("I can't help.", "content_filter")
    await provider.aclose()


async def test_stream_without_usage_reports_unknown_tokens() -> None:
    chunks = (
        {"model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
        {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    _, handler = _raw_server(*chunks, stream=True)
    provider = OpenAIProvider(api_key="sk-x", transport=httpx2.MockTransport(handler))
    request = LLMRequest(messages=(Message(role="user", content="x"),))
    final = [chunk async for chunk in provider.stream(request)][-1]
    assert (final.finish_reason, final.input_tokens, final.output_tokens) == ("stop", None, None)
    await provider.aclose()


async def test_content_filter_error_code_raises_content_filter_error() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        error = {"message": "filtered", "type": "invalid_request_error", "code": "content_filter"}
        return httpx2.Response(400, json={"error": error})

    provider = OpenAIProvider(api_key="sk-x", transport=httpx2.MockTransport(handler))
    with pytest.raises(ContentFilterError):
        await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),)))
    await provider.aclose()


async def test_tool_call_fragments_over_many_chunks_keep_their_ids() -> None:
    calls = (
        ScriptedToolCall("call_a", "add", ("{", '"a"', ": 1", "}")),
        ScriptedToolCall("call_b", "add", ('{"a": 2}',)),
    )
    provider, _ = _serve(ScriptedReply(tool_calls=calls, finish_reason="tool_calls"))
    request = LLMRequest(messages=(Message(role="user", content="x"),), tools=(ADD,))
    final = [chunk async for chunk in provider.stream(request)][-1]
    assert final.tool_calls == (
        ToolCall(id="call_a", name="add", arguments={"a": 1}),
        ToolCall(id="call_b", name="add", arguments={"a": 2}),
    )
    await provider.aclose()


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIProvider()


async def test_keyless_local_server_gets_a_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    seen, handler = _raw_server(
        {
            "model": "m",
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        }
    )
    provider = OpenAIProvider(transport=httpx2.MockTransport(handler))
    await provider.complete(LLMRequest(messages=(Message(role="user", content="x"),)))
    assert (str(seen[0].url), seen[0].headers["authorization"]) == (
        "http://localhost:8000/v1/chat/completions",
        "Bearer not-needed",
    )
    await provider.aclose()


def test_client_and_transport_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="http_client"):
        OpenAIProvider(
            api_key="sk-x",
            http_client=httpx2.AsyncClient(),
            transport=httpx2.MockTransport(lambda request: httpx2.Response(200)),
        )


async def test_aclose_leaves_a_user_client_open() -> None:
    client = httpx2.AsyncClient(
        transport=httpx2.MockTransport(lambda request: httpx2.Response(200))
    )
    provider = OpenAIProvider(api_key="sk-x", http_client=client)
    await provider.aclose()
    assert client.is_closed is False
    await client.aclose()


async def test_aclose_closes_the_client_built_around_a_transport() -> None:
    provider = OpenAIProvider(
        api_key="sk-x", transport=httpx2.MockTransport(lambda request: httpx2.Response(200))
    )
    await provider.aclose()
    assert provider.sdk.is_closed() is True


async def test_a_plain_httpx_client_is_accepted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"model": "m", "choices": [{"index": 0, "message": {"content": "via httpx"}}]}
        return httpx.Response(
            200, json={**body, "choices": [{**body["choices"][0], "finish_reason": "stop"}]}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = OpenAIProvider(api_key="sk-x", http_client=client)
        response = await provider.complete(
            LLMRequest(messages=(Message(role="user", content="x"),))
        )
        assert response.text == "via httpx"


def test_sdk_is_exposed_with_its_retries_off() -> None:
    provider = OpenAIProvider(api_key="sk-secret-value")
    assert (type(provider.sdk).__name__, provider.sdk.max_retries) == ("AsyncOpenAI", 0)


def test_repr_never_shows_the_key() -> None:
    provider = OpenAIProvider(api_key="sk-secret-value", default_model="gpt-4o")
    assert repr(provider) == "OpenAIProvider(model='gpt-4o', base_url='https://api.openai.com/v1/')"
