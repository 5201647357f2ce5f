"""Credentials stay with the configured origin, whatever the server redirects to.

Two real servers on two loopback ports: the configured one answers ``307`` pointing at
the other (another origin: another port). httpx strips only ``Authorization`` on such a
redirect, so ``x-api-key`` (Anthropic), ``x-goog-api-key`` (Gemini) and any header of
``default_headers`` would follow it. No provider may send a request there: not through
the client it builds, not through the SDK's default one, not through one passed in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any

import httpx2
import pytest

from aether import Aether, RetryPolicy
from aether.errors import ProviderError
from aether.llm.contracts import LLMRequest, Message
from aether.testing.wire import MockServer, Mode, ScriptedReply, WireFormat
from aether.testing.wires import BUILTIN_WIRES

from ._loopback import LoopbackServer

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

BASE_PATHS = {"openai": "/v1", "gemini": "", "anthropic": "", "openai-responses": "/v1"}
REQUEST = LLMRequest(messages=(Message(role="user", content="hi"),))
RETRY = RetryPolicy(attempts=3, base_delay=0.001, jitter=0)
GATEWAY_SECRET = "gateway-token-0123456789"


class Recorder:
    """A server's handler that records each request and answers with ``answer``."""

    def __init__(self, answer: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.requests: list[httpx2.Request] = []
        self._answer = answer

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self._answer(request)


@asynccontextmanager
async def two_origins() -> AsyncIterator[tuple[LoopbackServer, Recorder, Recorder]]:
    """The configured server (redirecting everything) and the other origin it names."""
    elsewhere = Recorder(lambda request: httpx2.Response(500, json={"error": "wrong server"}))
    async with LoopbackServer(elsewhere).running() as other:

        def redirect(request: httpx2.Request) -> httpx2.Response:
            target = other.url + request.url.raw_path.decode("ascii")
            return httpx2.Response(307, headers={"location": target})

        configured = Recorder(redirect)
        async with LoopbackServer(configured).running() as server:
            yield server, configured, elsewhere


def build(wire: WireFormat, base_url: str, how: str) -> tuple[Any, httpx2.AsyncClient | None]:
    """``wire``'s provider at ``base_url``, on the client ``how`` says."""
    from aether.extensions.llm.anthropic import AnthropicProvider
    from aether.extensions.llm.gemini import GeminiProvider
    from aether.extensions.llm.openai import OpenAIProvider
    from aether.extensions.llm.openai_responses import OpenAIResponsesProvider

    classes = {
        "openai": OpenAIProvider,
        "gemini": GeminiProvider,
        "anthropic": AnthropicProvider,
        "openai-responses": OpenAIResponsesProvider,
    }
    options: dict[str, Any] = {"default_headers": {"x-gateway-token": GATEWAY_SECRET}}
    client = None
    if how == "transport":
        options["transport"] = httpx2.AsyncHTTPTransport()
    elif how == "your_client":
        client = options["http_client"] = httpx2.AsyncClient(follow_redirects=True)
    provider = classes[wire.name](
        api_key=wire.api_key, base_url=base_url + BASE_PATHS[wire.name], **options
    )
    return provider, client


async def send(target: Any, mode: Mode) -> None:
    if mode == "complete":
        await target.complete(REQUEST)
        return
    async with aclosing(target.stream(REQUEST)) as stream:
        async for _chunk in stream:
            pass


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@pytest.mark.parametrize("how", ["default_client", "transport", "your_client"])
@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_a_redirect_to_another_origin_is_refused(
    wire: WireFormat, how: str, mode: Mode
) -> None:
    async with two_origins() as (server, configured, elsewhere):
        provider, client = build(wire, server.url, how)
        try:
            with pytest.raises(ProviderError, match="redirect") as raised:
                await send(provider, mode)
        finally:
            await provider.aclose()
            if client is not None:
                await client.aclose()
    assert elsewhere.requests == []
    assert len(configured.requests) == 1
    error = raised.value
    assert (error.retryable, error.status_code) == (False, 307)
    assert other_origin_named(str(error), server.url)
    assert wire.api_key not in str(error)


def other_origin_named(message: str, configured: str) -> bool:
    return "127.0.0.1" in message and "base_url" in message and configured in message


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_retry_does_not_follow_the_redirect_either(wire: WireFormat) -> None:
    async with two_origins() as (server, configured, elsewhere):
        provider, _ = build(wire, server.url, "transport")
        async with Aether(provider, retry=RETRY) as client:
            with pytest.raises(ProviderError, match="redirect"):
                await client.ask("hi")
    assert elsewhere.requests == []
    assert len(configured.requests) == 1


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_a_redirect_within_the_origin_is_followed(wire: WireFormat, mode: Mode) -> None:
    mock = MockServer(wire, [ScriptedReply(text=("Hello",))])
    moved: list[str] = []

    def handler(request: httpx2.Request) -> Any:
        if not moved:
            moved.append(str(request.url))
            location = request.url.copy_with(path="/moved" + request.url.path)
            return httpx2.Response(307, headers={"location": str(location)})
        return mock(request)

    provider = wire.build_provider(handler)
    try:
        await send(provider, mode)
    finally:
        await provider.aclose()
    assert len(mock.requests) == 1
    assert mock.last.path.startswith("/moved")
    assert mock.last.headers.get("x-api-key", wire.api_key) == wire.api_key
