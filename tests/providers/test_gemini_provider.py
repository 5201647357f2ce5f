"""Gemini specifics: the generateContent JSON, function-call ids and signatures, errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import httpx2
import pytest

from aether.errors import BadRequestError, ConfigurationError, ContentFilterError, RateLimitError
from aether.extensions.llm.gemini import GeminiProvider
from aether.llm.contracts import LLMRequest, Message, Tool, ToolCall
from aether.testing.wire import MockServer, ScriptedReply, ScriptedToolCall
from aether.testing.wires import GEMINI_WIRE
from aether.testing.wires.gemini import THOUGHT_SIGNATURE

# Marked here as well as by the conftest: anyio's plugin rebuilds late-marked async tests
# with the backend as their only parameter, dropping any parametrize.
pytestmark = pytest.mark.anyio

ADD = Tool(name="add", description="Add.", parameters={"type": "object", "properties": {}})
USER = Message(role="user", content="What's 17+25?")


def _serve(*script: Any, **options: Any) -> tuple[GeminiProvider, MockServer]:
    server = MockServer(GEMINI_WIRE, script)
    return GEMINI_WIRE.build_provider(server, **options), server


def _literal(status: int, body: dict[str, Any]) -> tuple[GeminiProvider, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(status, json=body)

    provider = GeminiProvider(api_key="gem-key", transport=httpx2.MockTransport(handler))
    return provider, seen


async def test_request_body_matches_the_generate_content_format() -> None:
    provider, server = _serve(ScriptedReply(text=("42",)))
    messages = (
        Message(role="system", content="Be terse."),
        USER,
        Message(
            role="assistant",
            content="Adding.",
            tool_calls=(ToolCall(id="c1", name="add", arguments={"a": 17, "b": 25}),),
        ),
        Message(role="tool", content="42", tool_call_id="c1"),  # name found from the call
    )
    request = LLMRequest(
        messages=messages,
        model="gemini-2.5-pro",
        temperature=0.4,
        top_p=0.8,
        max_tokens=50,
        stop=("END",),
        tools=(ADD,),
        tool_choice="add",
    )
    await provider.complete(request)
    body = server.last.body
    assert body["contents"] == [
        {"parts": [{"text": "What's 17+25?"}], "role": "user"},
        {
            "parts": [
                {"text": "Adding."},
                {"functionCall": {"id": "c1", "args": {"a": 17, "b": 25}, "name": "add"}},
            ],
            "role": "model",
        },
        {
            "parts": [
                {"functionResponse": {"id": "c1", "name": "add", "response": {"result": "42"}}}
            ],
            "role": "user",
        },
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}], "role": "user"}
    assert body["generationConfig"] == {
        "temperature": 0.4,
        "topP": 0.8,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
    }
    assert body["toolConfig"] == {
        "functionCallingConfig": {"allowedFunctionNames": ["add"], "mode": "ANY"}
    }
    assert server.last.path.endswith("/models/gemini-2.5-pro:generateContent")
    assert server.last.headers["x-goog-api-key"] == GEMINI_WIRE.api_key
    await provider.aclose()


async def test_stream_uses_stream_generate_content_with_sse() -> None:
    provider, server = _serve(ScriptedReply(text=("hi",)))
    async for _ in provider.stream(LLMRequest(messages=(USER,))):
        pass
    assert server.last.path.endswith("/models/gemini-2.5-flash:streamGenerateContent")
    await provider.aclose()


async def test_thought_signature_goes_back_with_its_call() -> None:
    call = ScriptedToolCall("c9", "add", ('{"a": 1}',), signature=THOUGHT_SIGNATURE)
    provider, server = _serve(
        ScriptedReply(tool_calls=(call,), finish_reason="tool_calls"), ScriptedReply(text=("2",))
    )
    first = await provider.complete(LLMRequest(messages=(USER,), tools=(ADD,)))
    history = (
        USER,
        Message(role="assistant", tool_calls=first.tool_calls),
        Message(role="tool", content="2", tool_call_id="c9", name="add"),
    )
    await provider.complete(LLMRequest(messages=history, tools=(ADD,)))
    part = server.last.body["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == THOUGHT_SIGNATURE
    assert base64.b64decode(part["thoughtSignature"]) == b"scripted-thought-signature"
    await provider.aclose()


CALL_WITHOUT_ID = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "thinking about it", "thought": True},
                    {"text": "Adding."},
                    {"functionCall": {"name": "add", "args": {"a": 1}}},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 10,
        "toolUsePromptTokenCount": 2,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 7,
        "cachedContentTokenCount": 4,
    },
    "modelVersion": "gemini-2.5-flash-001",
}


async def test_calls_without_ids_get_one_that_is_not_sent_back() -> None:
    provider, seen = _literal(200, CALL_WITHOUT_ID)
    response = await provider.complete(LLMRequest(messages=(USER,), tools=(ADD,)))
    (call,) = response.tool_calls
    assert call.id.startswith("aether-gemini-")
    assert call.arguments == {"a": 1}
    history = (
        USER,
        Message(role="assistant", tool_calls=response.tool_calls),
        Message(role="tool", content="2", tool_call_id=call.id),
    )
    await provider.complete(LLMRequest(messages=history, tools=(ADD,)))
    sent = json.loads(seen[-1].content)["contents"]
    assert sent[1]["parts"][0]["functionCall"] == {"args": {"a": 1}, "name": "add"}
    assert sent[2]["parts"][0]["functionResponse"] == {"name": "add", "response": {"result": "2"}}
    await provider.aclose()


async def test_thoughts_are_left_out_of_the_text_and_billed_as_output() -> None:
    provider, _ = _literal(200, CALL_WITHOUT_ID)
    response = await provider.complete(LLMRequest(messages=(USER,), tools=(ADD,)))
    counts = (
        response.input_tokens,
        response.output_tokens,
        response.reasoning_tokens,
        response.cached_input_tokens,
    )
    assert (response.text, counts) == ("Adding.", (12, 12, 7, 4))
    assert (response.finish_reason, response.model) == ("tool_calls", "gemini-2.5-flash-001")
    await provider.aclose()


async def test_a_blocked_prompt_is_a_content_filter_error() -> None:
    provider, _ = _literal(200, {"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(ContentFilterError, match="SAFETY"):
        await provider.complete(LLMRequest(messages=(USER,)))
    await provider.aclose()


async def test_retry_info_gives_retry_after_when_no_header_does() -> None:
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
    ]
    body = {
        "error": {
            "code": 429,
            "message": "Quota exceeded",
            "status": "RESOURCE_EXHAUSTED",
            "details": details,
        }
    }
    provider, _ = _literal(429, body)
    with pytest.raises(RateLimitError) as raised:
        await provider.complete(LLMRequest(messages=(USER,)))
    assert (raised.value.retry_after, raised.value.status_code) == (37.0, 429)
    await provider.aclose()


async def test_a_tool_message_without_a_name_or_its_call_is_refused() -> None:
    provider, server = _serve(ScriptedReply(text=("x",)))
    orphan = Message(role="tool", content="2", tool_call_id="unknown")
    with pytest.raises(BadRequestError, match=r"Message\.name"):
        await provider.complete(LLMRequest(messages=(USER, orphan)))
    assert server.requests == []
    await provider.aclose()


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
    ],
)
async def test_tool_choice_is_mapped(choice: str, config: dict[str, str]) -> None:
    provider, server = _serve(ScriptedReply(text=("x",)))
    await provider.complete(LLMRequest(messages=(USER,), tools=(ADD,), tool_choice=choice))
    assert server.last.body["toolConfig"] == {"functionCallingConfig": config}
    await provider.aclose()


async def test_invalid_escape_hatch_options_are_a_bad_request() -> None:
    provider, server = _serve(ScriptedReply(text=("x",)))
    options = {"gemini": {"no_such_field": 1}}
    with pytest.raises(BadRequestError, match="GenerateContentConfig"):
        await provider.complete(LLMRequest(messages=(USER,), provider_options=options))
    assert server.requests == []
    await provider.aclose()


async def test_aclose_leaves_a_user_client_open() -> None:
    client = httpx2.AsyncClient(
        transport=httpx2.MockTransport(lambda request: httpx2.Response(200))
    )
    provider = GeminiProvider(api_key="k", http_client=client)
    await provider.aclose()
    assert client.is_closed is False
    await client.aclose()


async def test_a_plain_httpx_client_is_accepted() -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "via httpx"}]}, "finishReason": "STOP"}]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    async with httpx.AsyncClient(transport=transport) as client:
        provider = GeminiProvider(api_key="k", http_client=client)
        response = await provider.complete(LLMRequest(messages=(USER,)))
    assert response.text == "via httpx"


def test_the_sdk_sync_side_is_refused_with_a_hint() -> None:
    provider = GeminiProvider(api_key="k")
    with pytest.raises(RuntimeError, match="async-only"):
        provider.sdk.models.generate_content(model="m", contents="hi")


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        GeminiProvider()


def test_repr_never_shows_the_key() -> None:
    provider = GeminiProvider(api_key="gem-secret-value")
    assert "gem-secret-value" not in repr(provider)
    assert repr(provider).startswith("GeminiProvider(model='gemini-2.5-flash'")
