"""HTTP/1.1 as `LeanTransport` writes and reads it (`aether.extensions.llm._http11`).

The request head is written from checked fields; the response head is parsed strictly
and may arrive cut anywhere; the body's framing decides whether the connection is kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.extensions.llm._http11 import (
    Framing,
    ResponseHead,
    body_framing,
    parse_head,
    request_head,
)
from aether.extensions.llm._lean_transport import LeanTransport, _Connection

ORIGIN = (b"http", b"example.test", 80)
GET = b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"


# --- the request head ------------------------------------------------------------------


def test_the_request_head_states_the_body_length_itself() -> None:
    head, close = request_head(
        b"POST",
        b"/v1/chat/completions?x=1",
        [
            (b"Host", b"example.test"),
            (b"Content-Length", b"999"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Authorization", b"Bearer k"),
        ],
        12,
    )
    assert head == (
        b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: example.test\r\n"
        b"Authorization: Bearer k\r\nContent-Length: 12\r\n\r\n"
    )
    assert close is False
    empty, _ = request_head(b"POST", b"/", [], 0)
    assert empty.endswith(b"Content-Length: 0\r\n\r\n")
    get, close = request_head(b"GET", b"/", [(b"Connection", b"Close")], 0)
    assert b"Content-Length" not in get
    assert close is True


@pytest.mark.parametrize(
    ("target", "headers", "problem"),
    [
        (b"/", [(b"X-Evil", b"a\r\nInjected: yes")], "CR, LF or NUL"),
        (b"/", [(b"X-Evil", b"a\nb")], "CR, LF or NUL"),
        (b"/", [(b"X-Evil", b"a\x00b")], "CR, LF or NUL"),
        (b"/", [(b"Bad Name", b"v")], "not a valid HTTP token"),
        (b"/", [(b"Bad:Name", b"v")], "not a valid HTTP token"),
        (b"/a b", [], "request target"),
        (b"/a\r\nX: y", [], "request target"),
    ],
)
def test_a_field_that_would_break_the_framing_is_refused(
    target: bytes, headers: list[tuple[bytes, bytes]], problem: str
) -> None:
    with pytest.raises(Framing, match=problem):
        request_head(b"POST", target, headers, 0)


@pytest.mark.anyio
async def test_such_a_request_is_a_local_protocol_error_and_opens_no_connection() -> None:
    transport = LeanTransport()
    request = httpx2.Request(
        "POST", "http://127.0.0.1:9/x", headers={"X-Evil": "a\r\nInjected: yes"}, content=b"{}"
    )
    with pytest.raises(httpx2.LocalProtocolError, match="CR, LF or NUL"):
        await transport.handle_async_request(request)
    assert transport.open_connections == 0
    await transport.aclose()


# --- the response head -----------------------------------------------------------------


def test_a_response_head_is_parsed_with_lower_cased_names() -> None:
    head = parse_head(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After:  7 \r\nX-Request-Id: abc\r\nEmpty:"
    )
    assert head == ResponseHead(
        429,
        b"Too Many Requests",
        1,
        [(b"retry-after", b"7"), (b"x-request-id", b"abc"), (b"empty", b"")],
    )
    assert parse_head(b"HTTP/1.0 200").reason == b""


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (b"HTTP/2 200 OK", "status line"),
        (b"HTTP/1.1 20 OK", "status line"),
        (b"ICY 200 OK", "status line"),
        (b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  continued", "obsolete line folding"),
        (b"HTTP/1.1 200 OK\r\nno colon here", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nBad Name: v", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nX: a\rb", "malformed header line"),
    ],
)
def test_a_malformed_response_head_is_refused(block: bytes, problem: str) -> None:
    with pytest.raises(Framing, match=problem):
        parse_head(block)


def _head(status: int = 200, *fields: tuple[bytes, bytes], minor: int = 1) -> ResponseHead:
    return ResponseHead(status, b"", minor, list(fields))


@pytest.mark.parametrize(
    ("method", "head", "close", "expected"),
    [
        (b"POST", _head(200, (b"content-length", b"5")), False, (5, True)),
        (b"POST", _head(200, (b"content-length", b"5, 5")), False, (5, True)),
        (b"POST", _head(200, (b"transfer-encoding", b"chunked")), False, (-1, True)),
        (b"POST", _head(200, (b"transfer-encoding", b"Chunked")), False, (-1, True)),
        # Codings we do not undo, or a length beside chunked: read, then not reused.
        (b"POST", _head(200, (b"transfer-encoding", b"gzip, chunked")), False, (-1, False)),
        (
            b"POST",
            _head(200, (b"transfer-encoding", b"chunked"), (b"content-length", b"5")),
            False,
            (-1, False),
        ),
        (b"POST", _head(200, (b"transfer-encoding", b"gzip")), False, (None, False)),
        (b"POST", _head(200), False, (None, False)),  # delimited by closing
        (b"HEAD", _head(200, (b"content-length", b"5")), False, (0, True)),
        (b"POST", _head(204), False, (0, True)),
        (b"GET", _head(304, (b"content-length", b"5")), False, (0, True)),
        (
            b"POST",
            _head(200, (b"content-length", b"5"), (b"connection", b"Close")),
            False,
            (5, False),
        ),
        (b"POST", _head(200, (b"content-length", b"5"), minor=0), False, (5, False)),
        (b"POST", _head(200, (b"content-length", b"5")), True, (5, False)),
    ],
)
def test_the_framing_says_where_the_body_ends_and_whether_to_reuse(
    method: bytes, head: ResponseHead, close: bool, expected: tuple[int | None, bool]
) -> None:
    assert body_framing(method, head, close=close) == expected


@pytest.mark.parametrize(
    "value", [b"five", b"-5", b"5, 6", b"0x5"], ids=["word", "negative", "two", "hex"]
)
def test_a_content_length_that_is_not_one_number_is_refused(value: bytes) -> None:
    with pytest.raises(Framing, match="Content-Length"):
        body_framing(b"POST", _head(200, (b"content-length", value)), close=False)


# --- exchanges over a scripted socket ---------------------------------------------------


class _ScriptedStream:
    """A socket stream that delivers ``pieces`` one per read, then the end."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces: Iterator[bytes] = iter(pieces)
        self.sent = b""
        self.closed = False

    async def send(self, data: bytes) -> None:
        self.sent += data

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint()
        piece = next(self.pieces, None)
        if piece is None:
            raise anyio.EndOfStream
        return piece

    async def aclose(self) -> None:
        self.closed = True

    def extra(self, attribute: Any, default: Any = None) -> Any:
        return default


class _Scripted(LeanTransport):
    def __init__(self, pieces: list[bytes]) -> None:
        super().__init__()
        self.stream = _ScriptedStream(pieces)

    async def _connect(self, origin: Any, timeouts: Any, request: Any) -> _Connection:
        self._open += 1
        return _Connection(origin, self.stream)  # type: ignore[arg-type]


async def _exchange(pieces: list[bytes]) -> tuple[httpx2.Response, bytes, _Scripted]:
    transport = _Scripted(pieces)
    response = await transport.round_trip(ORIGIN, b"GET", GET, {})
    body = await response.aread()
    return response, body, transport


ANSWER = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"6\r\ndata: \r\n3;ext=1\r\nhi\n\r\n0\r\nTrailer: t\r\n\r\n"
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(ANSWER) - 1), max_size=12))
@settings(max_examples=100, deadline=None)
def test_an_answer_cut_anywhere_reads_the_same(backend: str, cuts: list[int]) -> None:
    bounds = sorted({0, len(ANSWER), *cuts})
    pieces = [ANSWER[start:end] for start, end in itertools.pairwise(bounds)]
    response, body, transport = anyio.run(_exchange, pieces, backend=backend)
    assert response.status_code == 200  # the 1xx answers were skipped
    assert response.headers["content-type"] == "text/event-stream"
    assert body == b"data: hi\n"
    assert transport.stream.sent == GET
    assert (transport.open_connections, transport.idle_connections) == (1, 1)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("pieces", "problem"),
    [
        ([b"HTTP/1.1 200 OK\r\nContent-Le"], "in the middle of its answer"),
        ([], "without answering"),
        ([b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000], "longer than 65536"),
        ([b"HTTP/1.1 101 Switching Protocols\r\n\r\n"], "switched protocols"),
        ([b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n"], "obsolete line folding"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"], "Content-Length"),
    ],
)
async def test_a_broken_answer_head_is_a_protocol_error_and_closes_the_connection(
    pieces: list[bytes], problem: str
) -> None:
    transport = _Scripted(pieces)
    with pytest.raises(httpx2.RemoteProtocolError, match=problem):
        await transport.round_trip(ORIGIN, b"GET", GET, {})
    assert transport.stream.closed
    assert (transport.open_connections, transport.idle_connections) == (0, 0)


@pytest.mark.anyio
async def test_a_body_delimited_by_closing_is_read_to_the_end_and_not_reused() -> None:
    _response, body, transport = await _exchange([b"HTTP/1.1 200 OK\r\n\r\nfirst ", b"second"])
    assert body == b"first second"
    assert transport.stream.closed
    assert (transport.open_connections, transport.idle_connections) == (0, 0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "first"),
    [
        (b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", b"ab"),
        (b"Content-Length: 4\r\n\r\nabcd", b"abcd"),
    ],
    ids=["chunked", "sized"],
)
async def test_a_body_closed_part_way_gives_its_connection_back_once(
    answer: bytes, first: bytes
) -> None:
    from aether.extensions.llm._http import release_body

    # The whole body is buffered when the reader stops after its first piece: draining
    # the iterator after closing the response must not give the connection back again.
    transport = _Scripted([b"HTTP/1.1 200 OK\r\n" + answer])
    response = await transport.round_trip(ORIGIN, b"GET", GET, {})
    chunks = response.stream.__aiter__()
    assert await chunks.__anext__() == first
    await release_body(chunks, response.aclose)
    assert transport.stream.closed
    assert (transport.open_connections, transport.idle_connections) == (0, 0)
    assert transport._slots is not None
    assert transport._slots.value == 1000  # every slot back, none twice


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "last"),
    [
        (b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", b"0\r\n\r\n"),
        (b"Content-Length: 4\r\n\r\nab", b"cd"),
    ],
    ids=["chunked", "sized"],
)
async def test_a_body_closed_by_another_task_mid_read_gives_its_connection_back_once(
    answer: bytes, last: bytes
) -> None:
    # One task reads the body, another closes the response while that read waits. On
    # asyncio a read woken by data that arrived just before the close still returns that
    # data (anyio's stream hands out what it queued): if it ends the body, the reader
    # released the connection a second time, into the idle pool, closed.
    transport = _Scripted([b"HTTP/1.1 200 OK\r\n" + answer])
    waiting, arrived = anyio.Event(), anyio.Event()
    scripted = transport.stream
    first_receive = scripted.receive

    async def receive(max_bytes: int = 65536) -> bytes:
        if read_once and not waiting.is_set():  # the read after the first piece
            waiting.set()
            await arrived.wait()
            return last
        return await first_receive(max_bytes)

    read_once = False
    scripted.receive = receive  # type: ignore[method-assign]
    response = await transport.round_trip(ORIGIN, b"GET", GET, {})
    pieces: list[bytes] = []

    async def read() -> None:
        nonlocal read_once
        async for piece in response.stream:  # type: ignore[union-attr]
            pieces.append(piece)
            read_once = True

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        await waiting.wait()
        await response.aclose()
        arrived.set()
    assert pieces[0] == b"ab"
    assert scripted.closed
    assert (transport.open_connections, transport.idle_connections) == (0, 0)
    assert transport._slots is not None
    assert transport._slots.value == 1000  # every slot back, none twice


@pytest.mark.anyio
async def test_a_head_with_bare_line_feeds_is_read() -> None:
    # RFC 9112 (2.2) lets a recipient take a lone LF as a line's end; h11 did.
    response, body, transport = await _exchange(
        [b"HTTP/1.1 200 OK\nContent-Type: text/plain\r\nContent-Length: 2\n\nok"]
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert body == b"ok"
    assert (transport.open_connections, transport.idle_connections) == (1, 1)


@pytest.mark.anyio
async def test_a_slot_given_back_twice_is_an_error_not_a_larger_pool() -> None:
    _response, _body, transport = await _exchange([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    assert transport._slots is not None
    with pytest.raises(ValueError, match="too many"):
        transport._slots.release()


def test_credentials_are_checked_each_time_not_kept() -> None:
    from aether.extensions.llm import _http11

    key = b"Bearer sk-kept-nowhere-0123456789"
    request_head(b"POST", b"/", [(b"Authorization", key), (b"X-Api-Key", key)], 0)
    assert not any(key in value for _, value in _http11._checked)
    with pytest.raises(Framing, match="CR, LF or NUL"):
        request_head(b"POST", b"/", [(b"Authorization", key + b"\n")], 0)


def test_a_malformed_header_line_is_not_quoted_whole() -> None:
    # A server echoing a credential in a broken line: the message names the line's start,
    # never the rest, which a cut could hide from redaction.
    with pytest.raises(Framing) as caught:
        parse_head(b"HTTP/1.1 400 Bad Request\r\nX-Echo Bearer sk-secret-0123456789abcdef")
    assert "sk-secret" not in str(caught.value)
    with pytest.raises(Framing) as named:
        request_head(b"POST", b"/", [(b"sk-secret-0123456789abcdef " * 3, b"v")], 0)
    assert "sk-secret" not in str(named.value)
