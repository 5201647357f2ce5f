"""Errors as servers really send them: classified by every signal, told in clean sentences.

OpenAI-compatible servers (Groq, OpenRouter, vLLM...) report failures as an SSE event
inside a 200 stream, with a numeric ``code``, a ``status_code``, a ``type`` and a string
``code`` in various combinations. The class decides whether retry sends the request
again, so a request that fails the same way every time must not be a `ServerError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx2
import pytest

from aether import Aether, RetryPolicy
from aether.errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from aether.extensions.llm.anthropic import AnthropicProvider
from aether.extensions.llm.gemini import GeminiProvider
from aether.extensions.llm.openai import OpenAIProvider
from aether.llm.contracts import LLMRequest, Message

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

RETRY = RetryPolicy(attempts=3, base_delay=0.001, jitter=0)
REQUEST = LLMRequest(messages=(Message(role="user", content="hi"),))


class _Body(httpx2.AsyncByteStream):
    """A body read from the network, as a real transport delivers it (not preloaded)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


def _stream_handler(body: bytes, sent: list[httpx2.Request]) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, headers=headers, stream=_Body(body))

    return handler


def openai_stream(error: dict[str, Any], sent: list[httpx2.Request]) -> OpenAIProvider:
    """An OpenAI-compatible server that streams one text delta, then ``error``."""
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
    }
    body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps({'error': error})}\n\n".encode()
    return OpenAIProvider(
        api_key="sk-test", transport=httpx2.MockTransport(_stream_handler(body, sent))
    )


async def _stream_error(provider: Any) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        async with aclosing(provider.stream(REQUEST)) as stream:
            async for _chunk in stream:
                pass
    await provider.aclose()
    return raised.value


OPENAI_COMPATIBLE_EVENTS = [
    pytest.param(
        {
            "message": "tool call validation failed: parameters for tool add did not match",
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "status_code": 400,
        },
        BadRequestError,
        id="groq-tool_use_failed",
    ),
    pytest.param({"code": 400, "message": "Token limit reached"}, BadRequestError, id="code-400"),
    pytest.param({"code": "400", "message": "Bad input"}, BadRequestError, id="code-400-text"),
    pytest.param({"code": 429, "message": "Rate limit exceeded"}, RateLimitError, id="code-429"),
    pytest.param({"code": 401, "message": "No auth"}, AuthenticationError, id="code-401"),
    pytest.param({"code": 502, "message": "Upstream error"}, ServerError, id="code-502"),
    pytest.param({"status_code": 408, "message": "Too slow"}, RequestTimeoutError, id="status-408"),
    pytest.param(
        {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"},
        BadRequestError,
        id="context_length_exceeded",
    ),
    pytest.param(
        {"message": "flagged", "code": "content_filter", "status_code": 400},
        ContentFilterError,
        id="content_filter-400",
    ),
    pytest.param(
        {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"},
        RateLimitError,
        id="rate_limit_exceeded",
    ),
    pytest.param(
        {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"},
        AuthenticationError,
        id="invalid_api_key",
    ),
    pytest.param({"message": "oops", "type": "server_error"}, ServerError, id="server_error"),
    pytest.param({"message": "who knows"}, ServerError, id="unknown"),
]


@pytest.mark.parametrize(("error", "expected"), OPENAI_COMPATIBLE_EVENTS)
async def test_an_error_event_is_classified_by_every_signal(
    error: dict[str, Any], expected: type[ProviderError]
) -> None:
    raised = await _stream_error(openai_stream(error, []))
    assert type(raised) is expected
    assert raised.retryable == expected.retryable


@pytest.mark.parametrize(
    ("error", "expected", "attempts"),
    [
        (
            {"type": "invalid_request_error", "code": "tool_use_failed", "status_code": 400},
            BadRequestError,
            1,
        ),
        ({}, ServerError, 3),
    ],
    ids=["client-error-not-retried", "unknown-still-retried"],
)
async def test_an_error_event_before_any_text_is_retried_by_its_class(
    error: dict[str, Any], expected: type[ProviderError], attempts: int
) -> None:
    sent: list[httpx2.Request] = []
    body = f"data: {json.dumps({'error': {**error, 'message': 'bad call'}})}\n\n".encode()
    provider = OpenAIProvider(
        api_key="sk-test", transport=httpx2.MockTransport(_stream_handler(body, sent))
    )
    async with Aether(provider, retry=RETRY) as client:
        with pytest.raises(expected):
            async with aclosing(client.stream_text("hi")) as stream:
                async for _delta in stream:
                    pass
    assert len(sent) == attempts


ANTHROPIC_EVENTS = [
    ("overloaded_error", ServerError),
    ("api_error", ServerError),
    ("rate_limit_error", RateLimitError),
    ("invalid_request_error", BadRequestError),
    ("request_too_large", BadRequestError),
    ("authentication_error", AuthenticationError),
    ("permission_error", AuthenticationError),
    ("not_found_error", BadRequestError),
]


@pytest.mark.parametrize(("kind", "expected"), ANTHROPIC_EVENTS)
async def test_anthropic_error_events_are_classified_by_type(
    kind: str, expected: type[ProviderError]
) -> None:
    error = {"type": "error", "error": {"type": kind, "message": "Overloaded"}}
    body = f"event: error\ndata: {json.dumps(error)}\n\n".encode()
    provider = AnthropicProvider(
        api_key="sk-ant-test", transport=httpx2.MockTransport(_stream_handler(body, []))
    )
    assert type(await _stream_error(provider)) is expected


GEMINI_EVENTS = [
    ({"status": "INVALID_ARGUMENT", "message": "bad"}, BadRequestError),
    ({"status": "FAILED_PRECONDITION", "message": "no"}, BadRequestError),
    ({"status": "NOT_FOUND", "message": "no model"}, BadRequestError),
    ({"status": "PERMISSION_DENIED", "message": "no"}, AuthenticationError),
    ({"status": "UNAUTHENTICATED", "message": "no"}, AuthenticationError),
    ({"status": "RESOURCE_EXHAUSTED", "message": "quota"}, RateLimitError),
    ({"status": "DEADLINE_EXCEEDED", "message": "slow"}, RequestTimeoutError),
    ({"status": "UNAVAILABLE", "message": "down"}, ServerError),
    ({"status": "INTERNAL", "message": "oops"}, ServerError),
]


@pytest.mark.parametrize(("error", "expected"), GEMINI_EVENTS)
async def test_gemini_error_events_without_a_code_are_classified_by_status(
    error: dict[str, Any], expected: type[ProviderError]
) -> None:
    text = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}}]}
    body = f"data: {json.dumps(text)}\n\ndata: {json.dumps({'error': error})}\n\n".encode()
    provider = GeminiProvider(
        api_key="gm-test", transport=httpx2.MockTransport(_stream_handler(body, []))
    )
    assert type(await _stream_error(provider)) is expected


# -- what the message says ---------------------------------------------------------------


async def test_a_server_message_ending_in_a_period_is_not_given_another() -> None:
    error = {"code": 400, "message": "Token limit reached."}
    raised = await _stream_error(openai_stream(error, []))
    assert "Token limit reached." in str(raised)
    assert ".." not in str(raised)


async def test_an_http_error_message_ending_in_a_period_is_not_given_another() -> None:
    body = {"error": {"message": "Invalid model.", "type": "invalid_request_error"}}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(400, json=body))
    provider = OpenAIProvider(api_key="sk-test", transport=transport)
    with pytest.raises(BadRequestError) as raised:
        await provider.complete(REQUEST)
    await provider.aclose()
    assert "Invalid model." in str(raised.value)
    assert ".." not in str(raised.value)


OPENROUTER_429 = {
    "error": {
        "message": "Provider returned error",
        "code": 429,
        "metadata": {
            "raw": "google/gemini-2.0-flash-exp:free is temporarily rate-limited upstream. "
            "Please retry shortly, or add your own key.",
            "provider_name": "Google AI Studio",
        },
    },
    "user_id": "user_2x",
}


async def test_openrouter_upstream_detail_is_kept_in_the_message() -> None:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(429, json=OPENROUTER_429))
    provider = OpenAIProvider(api_key="sk-or-test", transport=transport)
    with pytest.raises(RateLimitError) as raised:
        await provider.complete(REQUEST)
    await provider.aclose()
    message = str(raised.value)
    assert "Provider returned error" in message
    assert "temporarily rate-limited upstream" in message
    assert "Google AI Studio" in message
    assert ".." not in message


async def test_openrouter_upstream_detail_is_kept_in_a_stream_error_event() -> None:
    raised = await _stream_error(openai_stream(OPENROUTER_429["error"], []))
    assert type(raised) is RateLimitError
    assert "temporarily rate-limited upstream" in str(raised)
