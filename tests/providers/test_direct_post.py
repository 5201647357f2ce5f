"""The OpenAI adapters' direct path (`aether.extensions.llm._direct_post`) against the SDK's.

Each adapter that owns its client posts straight to the transport under it; everything
else goes through the openai SDK and httpx2's client. Here the two paths get the same
calls and must send the same requests and raise the same errors. Requests differ only
where HTTP says it does not matter: the case and order of header names (the SDK
lower-cases them), and whether a timeout is ``7`` or ``7.0``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import anyio
import httpx2
import pytest

from aether.extensions.llm._direct_post import DirectPost
from aether.extensions.llm.openai import OpenAIProvider
from aether.llm.contracts import LLMRequest, Message
from aether.testing.wire import MockServer, Mode, ScriptedReply, WireFormat
from aether.testing.wires import OPENAI_RESPONSES_WIRE, OPENAI_WIRE

pytestmark = pytest.mark.anyio

WIRES = (OPENAI_WIRE, OPENAI_RESPONSES_WIRE)
MODES: tuple[Mode, ...] = ("complete", "stream")
ACCOUNT: dict[str, Any] = {
    "organization": "org-direct",
    "project": "proj-direct",
    "default_headers": {"X-Gateway": "gateway-1", "X-Custom": "custom"},
}
Handler = Callable[[httpx2.Request], Any]


def by_name(wire: WireFormat) -> str:
    return wire.name


def request(wire: WireFormat, **options: Any) -> LLMRequest:
    return LLMRequest(
        messages=(Message(role="user", content="hi"),),
        provider_options={wire.name: options} if options else {},
    )


def build(
    wire: WireFormat, handler: Handler, path: str, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> Any:
    """``wire``'s provider on ``path`` (``direct`` or ``sdk``), its requests to ``handler``."""
    monkeypatch.setenv("AETHER_LEAN_HTTP", "1" if path == "direct" else "0")
    provider = wire.build_provider(handler, **options)
    assert isinstance(provider._direct, DirectPost) == (path == "direct")
    return provider


async def send(provider: Any, call: LLMRequest, mode: Mode) -> str:
    if mode == "complete":
        return str((await provider.complete(call)).text)
    texts = []
    async with aclosing(provider.stream(call)) as stream:
        async for chunk in stream:
            texts.append(chunk.text or "")
    return "".join(texts)


class Recorder:
    """A transport handler that records each request and answers with ``answer``."""

    def __init__(self, answer: Handler) -> None:
        self.requests: list[httpx2.Request] = []
        self.answer = answer

    def __call__(self, request: httpx2.Request) -> Any:
        self.requests.append(request)
        return self.answer(request)


def shape(request: httpx2.Request) -> tuple[Any, ...]:
    """What a request says on the wire, up to header case and order."""
    timeouts = {phase: float(value) for phase, value in request.extensions["timeout"].items()}
    headers = sorted(request.headers.multi_items())  # names lower-cased; repeats kept
    return request.method, str(request.url), request.content, headers, timeouts


# -- which path ----------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES, ids=by_name)
@pytest.mark.parametrize(
    ("case", "direct"),
    [
        ("default", True),
        ("transport", True),
        ("http_client", False),
        ("switched_off", False),
        ("proxy_in_env", False),
        ("query_in_base_url", False),
    ],
)
async def test_the_direct_path_is_taken_only_for_an_owned_plain_client(
    wire: WireFormat, case: str, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aether.extensions.llm.openai_responses import OpenAIResponsesProvider

    cls = OpenAIProvider if wire is OPENAI_WIRE else OpenAIResponsesProvider
    options: dict[str, Any] = {"api_key": wire.api_key}
    client = None
    if case == "transport":
        options["transport"] = httpx2.MockTransport(MockServer(wire))
    elif case == "http_client":
        client = options["http_client"] = httpx2.AsyncClient()
    elif case == "switched_off":
        monkeypatch.setenv("AETHER_LEAN_HTTP", "0")
    elif case == "proxy_in_env":
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    elif case == "query_in_base_url":
        options["base_url"] = "https://gateway.example/v1?api-version=2024-10-01"
    provider = cls(**options)
    try:
        assert isinstance(provider._direct, DirectPost) is direct
        if not direct:
            assert provider._direct is None
    finally:
        await provider.aclose()
        if client is not None:
            await client.aclose()


# -- the same request on both paths ---------------------------------------------------


@pytest.mark.parametrize("wire", WIRES, ids=by_name)
@pytest.mark.parametrize("mode", MODES)
async def test_the_direct_request_is_the_sdk_request(
    wire: WireFormat, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = {}
    for path in ("direct", "sdk"):
        server = Recorder(MockServer(wire, [ScriptedReply(text=("hello",))]))
        provider = build(wire, server, path, monkeypatch, **ACCOUNT)
        try:
            assert await send(provider, request(wire), mode) == "hello"
        finally:
            await provider.aclose()
        (sent[path],) = server.requests
    direct, sdk = shape(sent["direct"]), shape(sent["sdk"])
    assert direct == sdk
    method, url, _, headers, _ = direct
    assert (method, url) == ("POST", "https://api.openai.com/v1/" + wire_path(wire))
    names = [name for name, _ in headers]
    assert len(names) == len(set(names))  # no header twice
    values = dict(headers)
    assert values["authorization"] == f"Bearer {wire.api_key}"
    assert values["openai-organization"] == "org-direct"
    assert values["openai-project"] == "proj-direct"
    assert values["x-gateway"] == "gateway-1"
    assert values["content-type"] == values["accept"] == "application/json"
    assert values["user-agent"].startswith("AsyncOpenAI/Python ")
    assert values["x-stainless-retry-count"] == "0"
    assert values["x-stainless-read-timeout"] == "600.0"


def wire_path(wire: WireFormat) -> str:
    return "chat/completions" if wire is OPENAI_WIRE else "responses"


PER_CALL: dict[str, Any] = {
    "extra_headers": {
        "x-custom": "replaced",  # default_headers said X-Custom
        "X-STAINLESS-RETRY-COUNT": "3",
        "x-gateway": None,  # None leaves a header out
        "X-Trace": "trace-1",
    },
    "extra_query": {"api-version": "2025-01-01", "tags": ["a", "b"], "filter": {"kind": "x"}},
    "timeout": 7.5,
}


@pytest.mark.parametrize("wire", WIRES, ids=by_name)
@pytest.mark.parametrize("mode", MODES)
async def test_per_call_options_reach_the_request_on_both_paths(
    wire: WireFormat, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = {}
    for path in ("direct", "sdk"):
        options = {**PER_CALL, "extra_headers": dict(PER_CALL["extra_headers"])}
        if path == "sdk":
            del options["extra_headers"]["x-gateway"]  # the SDK fails on None (a TypeError)
        server = Recorder(MockServer(wire, [ScriptedReply(text=("hello",))]))
        provider = build(wire, server, path, monkeypatch, **ACCOUNT)
        try:
            assert await send(provider, request(wire, **options), mode) == "hello"
        finally:
            await provider.aclose()
        (sent[path],) = server.requests
    direct = sent["direct"]
    assert direct.headers.get_list("x-custom") == ["replaced"]
    assert direct.headers.get_list("x-stainless-retry-count") == ["3"]
    assert direct.headers.get_list("x-trace") == ["trace-1"]
    assert "x-gateway" not in direct.headers
    assert direct.headers["x-stainless-read-timeout"] == "7.5"
    assert direct.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 7.5)
    # OpenAI's query encoding: brackets for lists and objects.
    assert direct.url.params.multi_items() == [
        ("api-version", "2025-01-01"),
        ("tags[]", "a"),
        ("tags[]", "b"),
        ("filter[kind]", "x"),
    ]
    sdk = sent["sdk"]
    del sdk.headers["x-gateway"]  # the SDK path was not asked to leave it out
    assert shape(direct) == shape(sdk)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_async_library_header_names_the_loop_of_each_call(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built outside any event loop (as a module-level provider is), then used in one."""
    sent = {}
    for path in ("direct", "sdk"):
        server = Recorder(MockServer(OPENAI_WIRE, [ScriptedReply(text=("hello",))]))
        provider = build(OPENAI_WIRE, server, path, monkeypatch)

        async def call(provider: Any = provider) -> None:
            try:
                await provider.complete(request(OPENAI_WIRE))
            finally:
                await provider.aclose()

        anyio.run(call, backend=backend)
        (sent[path],) = server.requests
    assert sent["direct"].headers["x-stainless-async"] == f"async:{backend}"
    assert shape(sent["direct"]) == shape(sent["sdk"])
