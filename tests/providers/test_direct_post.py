"""The OpenAI adapters' direct path (`aether.extensions.llm._direct_post`) against the SDK's.

Each adapter that owns its client posts straight to the transport under it; everything
else goes through the openai SDK and httpx2's client. Here the two paths get the same
calls and must send the same requests and raise the same errors. Requests differ only
where HTTP says it does not matter: the case and order of header names (the SDK
lower-cases them), and whether a timeout is ``7`` or ``7.0``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import anyio
import httpx2
import pytest

from aether.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from aether.extensions.llm._direct_post import DirectPost
from aether.extensions.llm.openai import OpenAIProvider
from aether.llm.contracts import LLMRequest, Message
from aether.testing.wire import (
    MockServer,
    Mode,
    ScriptedError,
    ScriptedReply,
    StalledStream,
    WireFormat,
)
from aether.testing.wires import OPENAI_RESPONSES_WIRE, OPENAI_WIRE
from aether.testing.wires.openai import error_response
from tests.reliability._loopback import LoopbackServer
from tests.reliability._support import wait_until

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


async def test_the_async_library_header_names_the_loop_of_each_call(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built outside any event loop (as a module-level provider is), then used in one."""
    sent = {}
    for path in ("direct", "sdk"):
        server = Recorder(MockServer(OPENAI_WIRE, [ScriptedReply(text=("hello",))]))
        provider = await anyio.to_thread.run_sync(build, OPENAI_WIRE, server, path, monkeypatch)
        try:
            await provider.complete(request(OPENAI_WIRE))
        finally:
            await provider.aclose()
        (sent[path],) = server.requests
    assert sent["direct"].headers["x-stainless-async"] == f"async:{anyio_backend}"
    assert shape(sent["direct"]) == shape(sent["sdk"])


async def test_the_async_library_header_is_right_on_the_lean_transport_too(
    anyio_backend: str,
) -> None:
    mock = Recorder(MockServer(OPENAI_WIRE, [ScriptedReply(text=("hello",))]))
    async with LoopbackServer(mock).running() as server:
        provider = await anyio.to_thread.run_sync(
            lambda: OpenAIProvider(api_key=KEY, base_url=server.url + "/v1")
        )
        try:
            assert await send(provider, request(OPENAI_WIRE), "complete") == "hello"
        finally:
            await provider.aclose()
    assert mock.requests[0].headers["x-stainless-async"] == f"async:{anyio_backend}"


# -- redirects ------------------------------------------------------------------------


def redirect_once(wire: WireFormat, status: int, location: str) -> Recorder:
    """Answers the first request with a redirect, the next ones with a reply."""
    server = MockServer(wire, [ScriptedReply(text=("moved",))])

    def answer(request: httpx2.Request) -> Any:
        if len(recorder.requests) == 1:
            return httpx2.Response(status, headers={"location": location})
        if request.method == "GET":  # nothing to decode: answer as the wire would
            return wire.render(ScriptedReply(text=("moved",)), stream=False, server=server)
        return server(request)

    recorder = Recorder(answer)
    return recorder


@pytest.mark.usefixtures("openai_http_path")
@pytest.mark.parametrize("wire", WIRES, ids=by_name)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [307, 308])
async def test_a_same_origin_redirect_is_followed_with_the_body_and_headers(
    wire: WireFormat, mode: Mode, status: int
) -> None:
    recorder = redirect_once(wire, status, "/v2/moved?to=here")
    provider = wire.build_provider(recorder, **ACCOUNT)
    try:
        assert await send(provider, request(wire), mode) == "moved"
    finally:
        await provider.aclose()
    first, second = recorder.requests
    assert str(second.url) == "https://api.openai.com/v2/moved?to=here"
    assert (second.method, second.content) == ("POST", first.content)
    assert second.headers.get_list("host") == ["api.openai.com"]
    assert sorted(second.headers.multi_items()) == sorted(first.headers.multi_items())


@pytest.mark.usefixtures("openai_http_path")
@pytest.mark.parametrize("wire", WIRES, ids=by_name)
@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_redirect_after_a_post_becomes_a_get_without_body(
    wire: WireFormat, status: int
) -> None:
    recorder = redirect_once(wire, status, "https://api.openai.com/v1/answer")
    provider = wire.build_provider(recorder, **ACCOUNT)
    try:
        assert await send(provider, request(wire), "complete") == "moved"
    finally:
        await provider.aclose()
    first, second = recorder.requests
    assert (second.method, str(second.url), second.content) == (
        "GET",
        "https://api.openai.com/v1/answer",
        b"",
    )
    assert "content-length" not in second.headers
    assert second.headers.get_list("host") == ["api.openai.com"]
    assert second.headers["authorization"] == first.headers["authorization"]  # same origin


@pytest.mark.parametrize("wire", WIRES, ids=by_name)
async def test_more_than_20_redirects_is_a_connection_error(
    wire: WireFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised = {}
    counts = {}
    for path in ("direct", "sdk"):
        recorder = Recorder(lambda request: httpx2.Response(307, headers={"location": "/v1/loop"}))
        provider = build(wire, recorder, path, monkeypatch)
        try:
            with pytest.raises(ProviderConnectionError) as error:
                await provider.complete(request(wire))
        finally:
            await provider.aclose()
        raised[path], counts[path] = error.value, len(recorder.requests)
    assert counts == {"direct": 21, "sdk": 21}  # the first request and 20 redirects
    assert "(TooManyRedirects: more than 20 redirects)" in str(raised["direct"])
    assert "(TooManyRedirects: " in str(raised["sdk"])
    assert raised["direct"].retryable is raised["sdk"].retryable


@pytest.mark.usefixtures("openai_http_path")
@pytest.mark.parametrize(
    "location",
    [
        "http://api.openai.com/v1/chat/completions",  # the same host, without TLS
        "https://api.openai.com:8443/v1/chat/completions",  # another port
        "https://[::1",  # no URL at all: never followed blindly
    ],
)
async def test_a_redirect_leaving_the_origin_in_a_less_obvious_way_is_refused(
    location: str,
) -> None:
    recorder = Recorder(lambda request: httpx2.Response(308, headers={"location": location}))
    provider = OPENAI_WIRE.build_provider(recorder)
    try:
        with pytest.raises(ProviderError, match="another origin") as raised:
            await provider.complete(request(OPENAI_WIRE))
    finally:
        await provider.aclose()
    assert len(recorder.requests) == 1
    assert (raised.value.status_code, raised.value.retryable) == (308, False)


# -- error statuses -------------------------------------------------------------------


def openai_error(message: str | None, kind: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "param": None, "code": code}
    if message is not None:
        error["message"] = message
    return {"error": error}


JSON = {"content-type": "application/json"}
ERROR_CASES: dict[str, tuple[int, dict[str, str], bytes, type[ProviderError], float | None]] = {
    "bad_request": (
        400,
        JSON,
        json.dumps(
            openai_error("Invalid model 'x'.", "invalid_request_error", "model_not_found")
        ).encode(),
        BadRequestError,
        None,
    ),
    "bad_key": (
        401,
        JSON,
        json.dumps(
            openai_error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        ).encode(),
        AuthenticationError,
        None,
    ),
    "rate_limit_retry_after": (
        429,
        {**JSON, "retry-after": "7"},
        json.dumps(openai_error("Rate limit reached.", "requests", "rate_limit_exceeded")).encode(),
        RateLimitError,
        7.0,
    ),
    "rate_limit_retry_after_ms": (
        429,
        {**JSON, "retry-after-ms": "1500"},
        json.dumps(openai_error("Rate limit reached.", "tokens", "rate_limit_exceeded")).encode(),
        RateLimitError,
        1.5,
    ),
    "content_filter": (
        400,
        JSON,
        json.dumps(openai_error("Flagged.", "invalid_request_error", "content_filter")).encode(),
        ContentFilterError,
        None,
    ),
    "json_without_message": (
        500,
        JSON,
        json.dumps(openai_error(None, "server_error")).encode(),
        ServerError,
        None,
    ),
    "fastapi_detail": (404, JSON, b'{"detail": "Not Found"}', BadRequestError, None),
    "json_string": (503, JSON, b'"overloaded"', ServerError, None),
    "plain_text": (
        503,
        {"content-type": "text/plain"},
        b"upstream connect error\n",
        ServerError,
        None,
    ),
    "html": (
        502,
        {"content-type": "text/html"},
        b"<html><h1>502 Bad Gateway</h1></html>",
        ServerError,
        None,
    ),
    "empty": (500, {}, b"", ServerError, None),
    "not_modified": (304, {}, b"", ProviderError, None),
}


@pytest.mark.parametrize("wire", WIRES, ids=by_name)
@pytest.mark.parametrize("case", sorted(ERROR_CASES))
async def test_an_error_status_maps_as_on_the_sdk_path(
    wire: WireFormat, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, headers, body, expected, retry_after = ERROR_CASES[case]
    for mode in MODES:
        raised = {}
        for path in ("direct", "sdk"):
            recorder = Recorder(
                lambda request: httpx2.Response(status, headers=headers, content=body)
            )
            provider = build(wire, recorder, path, monkeypatch)
            try:
                with pytest.raises(ProviderError) as error:
                    await send(provider, request(wire), mode)
            finally:
                await provider.aclose()
            raised[path] = error.value
        direct, sdk = raised["direct"], raised["sdk"]
        assert type(direct) is type(sdk) is expected
        assert direct.status_code == sdk.status_code == status
        assert direct.retry_after == sdk.retry_after == retry_after
        assert str(direct) == str(sdk)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "text/html"}, b"<html>maintenance</html>"),
        ({"content-type": "application/json"}, b'{"id": "chatcmpl-1", "choices": ['),
        ({"content-type": "application/json; charset=utf-8"}, b"\xff\xfe not utf-8"),
    ],
    ids=["html", "invalid_json", "invalid_utf8"],
)
@pytest.mark.parametrize("wire", WIRES, ids=by_name)
async def test_an_unreadable_2xx_body_is_malformed_as_on_the_sdk_path(
    wire: WireFormat, headers: dict[str, str], body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised = {}
    for path in ("direct", "sdk"):
        recorder = Recorder(lambda request: httpx2.Response(200, headers=headers, content=body))
        provider = build(wire, recorder, path, monkeypatch)
        try:
            with pytest.raises(MalformedResponseError) as error:
                await provider.complete(request(wire))
        finally:
            await provider.aclose()
        raised[path] = error.value
    assert str(raised["direct"]) == str(raised["sdk"])


# -- the key --------------------------------------------------------------------------


def chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception under it, by cause and by context."""
    found: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        pending += [link for link in (current.__cause__, current.__context__) if link]
    return found


KEY = OPENAI_WIRE.api_key
LEAKS: dict[str, Handler] = {
    "401": lambda request: httpx2.Response(
        401, json=openai_error(f"Incorrect API key provided: {KEY}.", "invalid_request_error")
    ),
    "429": lambda request: httpx2.Response(
        429, json=openai_error(f"Rate limit reached for key {KEY}.", "requests")
    ),
    "500": lambda request: httpx2.Response(500, text=f"upstream rejected Bearer {KEY}"),
    "cross_origin": lambda request: httpx2.Response(
        307, headers={"location": f"https://elsewhere.example/v1?key={KEY}"}
    ),
    "redirect_loop": lambda request: httpx2.Response(
        307, headers={"location": f"/v1/chat/completions?key={KEY}"}
    ),
}


@pytest.mark.parametrize("case", sorted(LEAKS))
async def test_the_key_is_in_no_error_of_the_direct_path(case: str) -> None:
    provider = OPENAI_WIRE.build_provider(LEAKS[case])
    assert isinstance(provider._direct, DirectPost)
    assert KEY not in repr(provider._direct)
    assert KEY not in repr(provider)
    try:
        with pytest.raises(ProviderError) as raised:
            await provider.complete(request(OPENAI_WIRE))
    finally:
        await provider.aclose()
    errors = chain(raised.value)
    if case.isdigit():  # a status error chains the server's answer: checked too
        assert len(errors) >= 2
    shown = [f"{error!s} {error!r}" for error in errors]
    assert all(KEY not in text for text in shown), shown


# -- connections ----------------------------------------------------------------------


async def loopback_provider(server: LoopbackServer) -> tuple[OpenAIProvider, Any]:
    """An OpenAI provider at ``server`` on its own `LeanTransport`, and that transport."""
    from aether.extensions.llm._lean_transport import LeanTransport

    provider = OpenAIProvider(api_key=KEY, base_url=server.url + "/v1")
    assert isinstance(provider._direct, DirectPost)
    assert provider._connection is not None
    _, _, transport = await provider._connection.get()
    assert isinstance(transport, LeanTransport)
    return provider, transport


def pool(transport: Any) -> tuple[int, int]:
    return transport.open_connections, transport.idle_connections


@pytest.mark.parametrize("body", ["json", "empty"])
async def test_an_error_status_leaves_its_connection_idle_for_the_next_call(body: str) -> None:
    replies = MockServer(OPENAI_WIRE, [ScriptedReply(text=("ok",))])
    failure = error_response(ScriptedError(500)) if body == "json" else httpx2.Response(500)
    answers = iter([failure])

    def answer(request: httpx2.Request) -> Any:
        first = next(answers, None)
        return replies(request) if first is None else first

    async with LoopbackServer(answer).running() as server:
        provider, transport = await loopback_provider(server)
        try:
            with pytest.raises(ServerError):
                await provider.complete(request(OPENAI_WIRE))
            assert pool(transport) == (1, 1)  # the body was read: the connection is reusable
            assert await send(provider, request(OPENAI_WIRE), "complete") == "ok"
            assert pool(transport) == (1, 1)
            assert server.open_connections + server.closed_connections == 1
        finally:
            await provider.aclose()
        assert pool(transport) == (0, 0)


async def test_a_cancelled_call_closes_its_connection() -> None:
    received = anyio.Event()
    mock = MockServer(OPENAI_WIRE, [ScriptedReply(text=("ok",))])

    def answer(request: httpx2.Request) -> Any:
        if not received.is_set():
            received.set()
            return anyio.sleep_forever()  # held: the answer never comes
        return mock(request)

    async with LoopbackServer(answer).running() as server:
        provider, transport = await loopback_provider(server)
        try:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as group:

                    async def cancel_once_received() -> None:
                        await received.wait()
                        scope.cancel()

                    group.start_soon(cancel_once_received)
                    await provider.complete(request(OPENAI_WIRE))
            assert scope.cancelled_caught
            assert pool(transport) == (0, 0)  # mid-answer: closed, not pooled
            await wait_until(lambda: server.open_connections == 0)
            assert await send(provider, request(OPENAI_WIRE), "complete") == "ok"
            assert server.closed_connections == 1
        finally:
            await provider.aclose()


async def test_a_stream_closed_early_closes_its_connection_and_a_finished_one_pools_it() -> None:
    mock = MockServer(OPENAI_WIRE, [StalledStream(text=("first ",)), ScriptedReply(text=("ok",))])
    async with LoopbackServer(mock).running() as server:
        provider, transport = await loopback_provider(server)
        try:
            async with aclosing(provider.stream(request(OPENAI_WIRE))) as stream:
                async for chunk in stream:
                    assert chunk.text == "first "
                    break
            assert pool(transport) == (0, 0)  # half-read: it cannot be reused
            await wait_until(lambda: (server.open_connections, mock.open_streams) == (0, 0))
            assert await send(provider, request(OPENAI_WIRE), "stream") == "ok"
            assert pool(transport) == (1, 1)  # read to the end: pooled
        finally:
            await provider.aclose()
        assert pool(transport) == (0, 0)


async def test_a_followed_redirect_hands_its_connection_to_the_redirected_request() -> None:
    mock = MockServer(OPENAI_WIRE, [ScriptedReply(text=("moved",))])

    def answer(request: httpx2.Request) -> Any:
        if request.url.path == "/v1/chat/completions":
            return httpx2.Response(
                307, headers={"location": "/v2/chat/completions"}, text="Moved to /v2."
            )
        return mock(request)

    async with LoopbackServer(answer).running() as server:
        provider, transport = await loopback_provider(server)
        try:
            assert await send(provider, request(OPENAI_WIRE), "complete") == "moved"
            assert pool(transport) == (1, 1)  # the redirect's body was read and released
            assert server.open_connections + server.closed_connections == 1
        finally:
            await provider.aclose()


async def test_more_than_20_redirects_on_the_lean_transport_is_the_same_error() -> None:
    # The direct path on its own transport sends the first request as written bytes, then
    # follows redirects as httpx2 requests: the first one counted twice, so a 21st
    # redirect was followed there (22 requests), unlike httpx and the SDK path.
    mock = MockServer(OPENAI_WIRE, [ScriptedReply(text=("ok",))])
    requests: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> Any:
        requests.append(request)
        return httpx2.Response(307, headers={"location": "/v1/loop"})

    async with LoopbackServer(answer).running() as server:
        provider, transport = await loopback_provider(server)
        try:
            with pytest.raises(ProviderConnectionError, match="more than 20 redirects"):
                await provider.complete(request(OPENAI_WIRE))
            assert len(requests) == 21  # the first request and 20 redirects
            assert pool(transport) == (1, 1)  # each redirect's body read: one connection
            server.mock = mock
            assert await send(provider, request(OPENAI_WIRE), "complete") == "ok"
        finally:
            await provider.aclose()


@pytest.mark.parametrize("mode", MODES)
async def test_a_connection_the_request_asks_to_close_is_not_reused(mode: Mode) -> None:
    # Connection: close in the provider's headers: the client must send no further
    # request on that connection (RFC 9112, 9.6), whether or not the server says close
    # too. The head written once for the lean transport lost that, and the connection
    # went back to the pool.
    mock = MockServer(OPENAI_WIRE, [ScriptedReply(text=("ok",)), ScriptedReply(text=("ok",))])
    async with LoopbackServer(mock).running() as server:
        provider = OpenAIProvider(
            api_key=KEY, base_url=server.url + "/v1", default_headers={"Connection": "close"}
        )
        assert provider._connection is not None
        _, _, transport = await provider._connection.get()
        try:
            for _ in range(2):
                assert await send(provider, request(OPENAI_WIRE), mode) == "ok"
                assert pool(transport) == (0, 0)
            assert mock.http_request.headers["connection"] == "close"
            await wait_until(lambda: server.open_connections == 0)
            assert server.closed_connections == 2
        finally:
            await provider.aclose()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"api_key": KEY + "\n"}, "'Authorization'"),
        ({"api_key": KEY, "default_headers": {"X-Gateway": "a\r\nInjected: yes"}}, "'X-Gateway'"),
    ],
    ids=["key-ending-in-newline", "header-with-crlf"],
)
def test_a_header_that_cannot_be_written_is_a_configuration_error(
    options: dict[str, Any], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The direct path writes its head when the provider is built: a key read from a file
    # with its newline raised the transport's internal Framing error from the constructor.
    monkeypatch.setenv("AETHER_LEAN_HTTP", "1")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="newline") as error:
        OpenAIProvider(**options)
    text = f"{error.value!s} {error.value!r}"
    assert named in text
    assert "CR, LF or NUL" in text
    assert KEY not in text
    assert "Injected" not in text
