"""`LeanTransport`'s pool over real loopback sockets: reuse, limits, closing.

The provider-level faults (hangs, resets, abandoned and cancelled streams) run over this
transport too, in test_socket_faults.py; these tests look at the pool itself.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import SocketStream
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.extensions.llm._lean_transport import LeanTransport

from ._loopback import LoopbackServer
from ._support import wait_until

pytestmark = pytest.mark.anyio


class Recorder:
    """Answers ``ok``, or a body held until ``release`` is set when ``held``."""

    def __init__(self, *, held: bool = False) -> None:
        self.requests: list[httpx2.Request] = []
        self.held = held
        self.release = anyio.Event()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.held:
            return httpx2.Response(200, content=b"ok")

        async def body() -> AsyncIterator[bytes]:
            yield b"first "
            await self.release.wait()
            yield b"last"

        return httpx2.Response(200, content=body())


def accepted(server: LoopbackServer) -> int:
    return server.open_connections + server.closed_connections


async def test_sequential_requests_reuse_one_connection() -> None:
    transport = LeanTransport()
    async with LoopbackServer(Recorder()).running() as server:
        client = httpx2.AsyncClient(transport=transport)
        for _ in range(3):
            response = await client.post(server.url + "/v1/x", content=b"{}")
            assert response.text == "ok"
        assert accepted(server) == 1
        assert (transport.open_connections, transport.idle_connections) == (1, 1)
        await client.aclose()
        await wait_until(lambda: server.open_connections == 0)
    assert transport.open_connections == 0


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    connections = 0
    closed = anyio.Event()

    async def answer_once_then_close(stream: SocketStream) -> None:
        nonlocal connections
        connections += 1
        received = b""
        while b"\r\n\r\n" not in received:
            received += await stream.receive()
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await stream.aclose()  # keep-alive was promised: the client keeps it idle
        closed.set()

    transport = LeanTransport()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, answer_once_then_close)
        async with httpx2.AsyncClient(transport=transport) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
            await closed.wait()
            closed = anyio.Event()
            # The idle connection is readable (the server's FIN): discarded, not used.
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
        assert connections == 2
        group.cancel_scope.cancel()


async def test_an_abandoned_stream_closes_its_connection() -> None:
    transport = LeanTransport()
    recorder = Recorder(held=True)
    async with (
        LoopbackServer(recorder).running() as server,
        httpx2.AsyncClient(transport=transport) as client,
    ):
        async with (
            client.stream("POST", server.url + "/x", content=b"{}") as response,
            aclosing(response.aiter_raw()) as pieces,
        ):
            async for piece in pieces:
                assert piece == b"first "
                break
        # Half-read: it cannot be reused, so it is closed now.
        assert (transport.open_connections, transport.idle_connections) == (0, 0)
        await wait_until(lambda: server.open_connections == 0)
        recorder.held = False
        assert (await client.post(server.url + "/x", content=b"{}")).text == "ok"
        assert accepted(server) == 2


async def test_the_connection_limit_queues_requests_and_reuses() -> None:
    transport = LeanTransport(max_connections=2)
    recorder = Recorder(held=True)
    texts: list[str] = []
    async with (
        LoopbackServer(recorder).running() as server,
        httpx2.AsyncClient(transport=transport) as client,
    ):

        async def call() -> None:
            texts.append((await client.post(server.url + "/x", content=b"{}")).text)

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)
            await wait_until(lambda: len(recorder.requests) == 2)
            await anyio.wait_all_tasks_blocked()
            assert len(recorder.requests) == 2  # the third waits for a free slot
            assert transport.open_connections == 2
            recorder.release.set()
        assert texts == ["first last"] * 3
        assert accepted(server) == 2  # the third reused a returned connection


async def test_a_full_pool_times_out_as_a_pool_timeout() -> None:
    transport = LeanTransport(max_connections=1)
    recorder = Recorder(held=True)
    async with (
        LoopbackServer(recorder).running() as server,
        httpx2.AsyncClient(transport=transport) as client,
    ):
        async with client.stream("POST", server.url + "/x", content=b"{}"):
            with pytest.raises(httpx2.PoolTimeout):
                await client.post(
                    server.url + "/x", content=b"{}", timeout=httpx2.Timeout(5.0, pool=0)
                )
        recorder.release.set()


async def test_a_cancelled_request_leaks_no_connection_or_slot() -> None:
    transport = LeanTransport(max_connections=1)
    waiting: list[Any] = []

    def never_answer(request: httpx2.Request) -> Any:
        waiting.append(request)
        return anyio.sleep_forever()

    async with (
        LoopbackServer(never_answer).running() as server,
        httpx2.AsyncClient(transport=transport) as client,
    ):
        with anyio.CancelScope() as scope:

            async def cancel_when_sent() -> None:
                await wait_until(lambda: bool(waiting))
                scope.cancel()

            async with anyio.create_task_group() as group:
                group.start_soon(cancel_when_sent)
                await client.post(server.url + "/x", content=b"{}")
        assert scope.cancelled_caught
        assert transport.open_connections == 0
        await wait_until(lambda: server.open_connections == 0)
        server.mock = Recorder()
        # The one slot came back: a new request gets it.
        assert (await client.post(server.url + "/x", content=b"{}")).text == "ok"


async def test_a_closed_transport_refuses_requests_and_closes_idle_ones() -> None:
    transport = LeanTransport()
    async with LoopbackServer(Recorder()).running() as server:
        client = httpx2.AsyncClient(transport=transport)
        await client.post(server.url + "/x", content=b"{}")
        await client.aclose()
        assert transport.open_connections == 0
        await wait_until(lambda: server.open_connections == 0)
        with pytest.raises(RuntimeError, match="closed"):
            await transport.handle_async_request(httpx2.Request("GET", server.url))


async def _three_idle(server: LoopbackServer, client: httpx2.AsyncClient) -> None:
    """Three calls at once: three connections, each idle once its answer is read."""
    recorder = server.mock
    assert isinstance(recorder, Recorder)
    assert recorder.held

    async def call() -> None:
        await client.post(server.url + "/x", content=b"{}")

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(call)
        await wait_until(lambda: len(recorder.requests) == 3)
        recorder.release.set()


async def test_closing_the_transport_while_cancelled_still_closes_every_idle_connection() -> None:
    # A client closed from a cancelled task (a gateway shutting down): each close is a
    # checkpoint, so the cancellation stopped the loop after the first connection and the
    # rest were never closed (nor counted as closed).
    transport = LeanTransport()
    async with LoopbackServer(Recorder(held=True)).running() as server:
        client = httpx2.AsyncClient(transport=transport)
        await _three_idle(server, client)
        assert (transport.open_connections, transport.idle_connections) == (3, 3)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await transport.aclose()
        assert transport.open_connections == 0
        await wait_until(lambda: server.open_connections == 0)
        await client.aclose()


async def test_idle_connections_past_their_expiry_are_closed_though_newer_ones_serve() -> None:
    # Idle connections are taken newest first: after a burst, the older ones sit at the
    # far end of the deque, which taking never reaches while fewer calls come. They were
    # kept open past keepalive_expiry for as long as the pool was in use.
    transport = LeanTransport(keepalive_expiry=5.0)
    async with (
        LoopbackServer(Recorder(held=True)).running() as server,
        httpx2.AsyncClient(transport=transport) as client,
    ):
        await _three_idle(server, client)
        idle = transport._idle[(b"http", b"127.0.0.1", server.port)]
        for connection in list(idle)[:2]:
            connection.idle_since -= 60.0  # idle for a minute: expired
        server.mock = Recorder()
        assert (await client.post(server.url + "/x", content=b"{}")).text == "ok"
        assert (transport.open_connections, transport.idle_connections) == (1, 1)
        await wait_until(lambda: server.open_connections == 1)


def _transport_of(provider: Any) -> Any:
    return provider._sdk._client._transport


def test_the_openai_adapters_own_clients_use_it_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aether.extensions.llm.openai import OpenAIProvider
    from aether.extensions.llm.openai_responses import OpenAIResponsesProvider

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AETHER_LEAN_HTTP", raising=False)
    assert isinstance(_transport_of(OpenAIProvider(api_key="sk-x")), LeanTransport)
    assert isinstance(_transport_of(OpenAIResponsesProvider(api_key="sk-x")), LeanTransport)
    # A transport or client of yours is used as given.
    yours = httpx2.AsyncHTTPTransport()
    assert _transport_of(OpenAIProvider(api_key="sk-x", transport=yours)) is yours
    # The switch, and a proxy in the environment (httpcore2 speaks to proxies).
    monkeypatch.setenv("AETHER_LEAN_HTTP", "0")
    assert not isinstance(_transport_of(OpenAIProvider(api_key="sk-x")), LeanTransport)
    monkeypatch.delenv("AETHER_LEAN_HTTP")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert not isinstance(_transport_of(OpenAIProvider(api_key="sk-x")), LeanTransport)


def test_a_provider_on_it_serves_successive_event_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    # One provider, one asyncio.run then one trio.run: each loop gets its own transport
    # and pool (LoopBound), and the first loop's connection is closed when it ends.
    from anyio.from_thread import start_blocking_portal

    from aether.extensions.llm.openai import OpenAIProvider
    from aether.llm.contracts import LLMRequest, Message
    from aether.testing.wire import MockServer, ScriptedReply
    from aether.testing.wires import BUILTIN_WIRES

    monkeypatch.delenv("AETHER_LEAN_HTTP", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    wire = next(wire for wire in BUILTIN_WIRES if wire.name == "openai")
    mock = MockServer(wire, [ScriptedReply(text=("one",)), ScriptedReply(text=("two",))])
    request = LLMRequest(messages=(Message(role="user", content="hi"),))
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(LoopbackServer(mock).running()) as server,
    ):
        provider = OpenAIProvider(api_key=wire.api_key, base_url=server.url + "/v1")
        transports: list[Any] = []

        async def ask() -> str:
            answer = await provider.complete(request)
            transports.append(_transport_of(provider))
            return answer.text

        assert anyio.run(ask, backend="asyncio") == "one"
        assert anyio.run(ask, backend="trio") == "two"
        assert all(isinstance(transport, LeanTransport) for transport in transports)
        assert transports[0] is not transports[1]
        assert transports[0].open_connections == 0  # closed with its loop
        portal.call(provider.aclose)


async def test_a_connection_on_a_descriptor_above_1024_is_reused() -> None:
    # The idle check used select(), which raises ValueError for a descriptor above 1024:
    # a pool of a thousand connections (the default) gets there.
    import os
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the descriptor limit ({soft}) is too low to open one above 1024")
    fillers = []
    try:
        while not fillers or fillers[-1] < 1030:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        transport = LeanTransport()
        async with LoopbackServer(Recorder()).running() as server:
            client = httpx2.AsyncClient(transport=transport)
            for _ in range(2):
                response = await client.post(server.url + "/v1/x", content=b"{}")
                assert response.text == "ok"
            assert accepted(server) == 1
            await client.aclose()
    finally:
        for descriptor in fillers:
            os.close(descriptor)


async def _raw_server(answers: list[bytes], group: Any) -> tuple[Any, int, list[int]]:
    """A server answering each request with the next of ``answers`` (raw bytes); a
    connection closes after an answer that says ``Connection: close`` or has no length."""
    served: list[int] = []  # the connection each answer went out on
    count = 0

    async def handle(stream: SocketStream) -> None:
        nonlocal count
        count += 1
        number = count
        received = b""
        while answers:
            while b"\r\n\r\n" not in received:
                received += await stream.receive()
            received = received.split(b"\r\n\r\n", 1)[1]
            answer = answers.pop(0)
            served.append(number)
            await stream.send(answer)
            keeps_alive = answer.startswith(b"HTTP/1.1") and (
                b"Content-Length" in answer or b"chunked" in answer
            )
            if b"Connection: close" in answer or not keeps_alive:
                break
        await stream.aclose()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    group.start_soon(listener.serve, handle)
    return listener, listener.extra(anyio.abc.SocketAttribute.local_port), served


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", id="close"
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\nok", id="delimited-by-close"),
        pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", id="http-1.0"),
    ],
)
async def test_a_connection_the_server_will_close_is_never_reused(first: bytes) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    transport = LeanTransport()
    async with anyio.create_task_group() as group:
        listener, port, served = await _raw_server([first, chunked, chunked], group)
        try:
            async with httpx2.AsyncClient(transport=transport) as client:
                for _ in range(3):
                    assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
        finally:
            group.cancel_scope.cancel()
    await listener.aclose()
    # The first answer's connection ended with it; the chunked ones share the next.
    assert served == [1, 2, 2]
    assert transport.open_connections == 0


async def test_https_verifies_the_server_and_reuses_the_tls_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The path every call to OpenAI itself takes: TLS with the hostname checked against
    # the certificate, then the same connection for the next request (its idle check
    # reads the socket under the TLS layer).
    import ssl

    import trustme
    from anyio.streams.tls import TLSListener

    from aether.extensions.llm import _lean_transport

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    connections = 0

    async def answer(stream: Any) -> None:
        nonlocal connections
        connections += 1
        received = b""
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                while True:
                    while b"\r\n\r\n" not in received:
                        received += await stream.receive()
                    received = received.split(b"\r\n\r\n", 1)[1]
                    await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")

    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    listener = TLSListener(tcp, server_context, standard_compatible=False)
    url = f"https://127.0.0.1:{port}/v1/x"
    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, answer)
        try:
            # Not trusted: the certificate is refused, as with any unknown authority.
            transport = LeanTransport()
            async with httpx2.AsyncClient(transport=transport) as client:
                with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(url)
            assert transport.open_connections == 0
            monkeypatch.setattr(_lean_transport, "shared_ssl_context", lambda: trusting)
            transport = LeanTransport()
            async with httpx2.AsyncClient(transport=transport) as client:
                for _ in range(3):
                    assert (await client.get(url)).text == "secure"
                assert (transport.open_connections, transport.idle_connections) == (1, 1)
        finally:
            group.cancel_scope.cancel()
    await listener.aclose()
    assert connections == 1  # one for the three requests (the refused one never got past TLS)


@pytest.mark.parametrize("how", ["closed", "reset"])
async def test_a_tls_handshake_the_server_ends_is_a_connect_error(how: str) -> None:
    # anyio reports a TLS handshake cut short as EndOfStream or BrokenResourceError, not
    # OSError: it escaped as itself, which neither the SDK's nor Aether's error mapping
    # knows as a connection failure.
    import socket
    import struct

    async def end_at_once(stream: SocketStream) -> None:
        if how == "reset":
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()

    transport = LeanTransport()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, end_at_once)
        try:
            with pytest.raises(httpx2.ConnectError, match=r"cannot connect to 127\.0\.0\.1"):
                await transport.round_trip(
                    (b"https", b"127.0.0.1", port), b"GET", b"GET / HTTP/1.1\r\n\r\n", {}
                )
        finally:
            group.cancel_scope.cancel()
    assert transport.open_connections == 0
    assert transport._slots is not None
    assert transport._slots.value == 1000


async def test_a_write_that_outlasts_its_timeout_is_a_write_timeout_and_closes() -> None:
    # A server that never reads (its listener never even accepts): once the socket
    # buffers are full the send waits, and the write phase's timeout ends it.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    transport = LeanTransport()
    body = b"x" * (32 << 20)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    try:
        with pytest.raises(httpx2.WriteTimeout):
            await transport.round_trip(
                (b"http", b"127.0.0.1", port), b"POST", head + body, {"write": 0.2}
            )
    finally:
        listener.close()
    assert (transport.open_connections, transport.idle_connections) == (0, 0)
    assert transport._slots is not None
    assert transport._slots.value == 1000


def _encode_chunked(pieces: list[bytes], extension: bool, trailers: bool) -> bytes:
    out = b""
    for piece in pieces:
        out += f"{len(piece):x}".encode() + (b";name=value" if extension else b"") + b"\r\n"
        out += piece + b"\r\n"
    return out + b"0\r\n" + (b"Trailer-Field: yes\r\n" if trailers else b"") + b"\r\n"


@given(
    pieces=st.lists(st.binary(min_size=1, max_size=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
    extension=st.booleans(),
    trailers=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_a_chunked_body_parses_the_same_however_it_is_cut(
    pieces: list[bytes], cuts: list[int], extension: bool, trailers: bool
) -> None:
    from aether.extensions.llm._http11 import chunks as _chunks

    wire = _encode_chunked(pieces, extension, trailers)
    bounds = sorted({0, len(wire), *(cut for cut in cuts if cut < len(wire))})
    buffer = bytearray()
    received: list[bytes] = []
    ended = False
    for start, end in itertools.pairwise(bounds):
        assert not ended
        buffer += wire[start:end]
        for item in _chunks(buffer):
            if item is True:
                ended = True
                break
            received.append(item)
    assert ended
    assert b"".join(received) == b"".join(pieces)
    assert received == pieces
    assert buffer == b""


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
            "not hexadecimal",
            id="bad-size",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n",
            "not hexadecimal",
            id="0x-size",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX",
            "not followed by CRLF",
            id="no-crlf",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok",
            "before the end of the body",
            id="cut-chunked",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
            "before the end of the body",
            id="cut-sized",
        ),
    ],
)
async def test_a_broken_body_is_a_protocol_error_and_its_connection_is_closed(
    answer: bytes, error: str
) -> None:
    transport = LeanTransport()
    async with anyio.create_task_group() as group:
        listener, port, _ = await _raw_server([answer], group)
        try:
            async with httpx2.AsyncClient(transport=transport) as client:
                with pytest.raises(httpx2.RemoteProtocolError, match=error):
                    await client.get(f"http://127.0.0.1:{port}/")
                assert (transport.open_connections, transport.idle_connections) == (0, 0)
        finally:
            group.cancel_scope.cancel()
    await listener.aclose()
