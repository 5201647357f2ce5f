"""HTTP/1.1 for `LeanTransport`: a request head written, a response head and body read.

Only what a client needs for an API's request-then-answer exchange (RFC 9112): a request
head from checked fields, a strict response head parser, the body's framing (chunked,
sized, or delimited by closing the connection) and a chunked body parser. Every
violation is a `Framing` error, which the transport turns into
``httpx2.RemoteProtocolError`` (or ``httpx2.LocalProtocolError`` for a request of ours
that cannot be written) and answers by closing the connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final, Literal, NamedTuple

__all__ = [
    "HEAD_END",
    "MAX_HEAD",
    "Framing",
    "ResponseHead",
    "body_framing",
    "chunks",
    "finish_head",
    "head_prefix",
    "parse_head",
    "request_head",
]

MAX_HEAD: Final = 65536
"""Bytes a response head may take (h11's limit is 16 KiB; some gateways send more)."""

_HEX = b"0123456789abcdefABCDEF"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_VALUE = re.compile(rb"[\x00\r\n]")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\x00\r\n]*))?")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00\r\n]*?)[ \t]*")
_FRAMING_FIELDS = (b"content-length", b"transfer-encoding")

HEAD_END: Final = re.compile(rb"\n\r?\n")
"""The empty line ending a head: CRLF CRLF, or bare LFs, which RFC 9112 (2.2) lets a
recipient accept (h11 did; a few embedded servers send them)."""

_checked: set[tuple[bytes, bytes]] = set()
"""Fields already found safe to write: a client sends the same few over and over.
Credentials are checked every time instead, so that no key outlives its provider here."""
_CREDENTIALS = frozenset(
    (b"authorization", b"proxy-authorization", b"x-api-key", b"api-key", b"x-goog-api-key")
)


class Framing(Exception):
    """A message that breaks HTTP/1.1's syntax or framing."""


class ResponseHead(NamedTuple):
    """A parsed status line and header fields (names lower-cased, in order)."""

    status: int
    reason: bytes
    minor: int
    headers: list[tuple[bytes, bytes]]


def _check_field(name: bytes, value: bytes) -> None:
    if (name, value) in _checked:
        return
    if not _TOKEN.fullmatch(name):
        shown = repr(name) if len(name) <= 40 else f"of {len(name)} bytes"
        raise Framing(f"the header name {shown} is not a valid HTTP token")
    if _UNSAFE_VALUE.search(value):
        raise Framing(f"the value of header {name.decode()!r} holds a CR, LF or NUL")
    if name.lower() in _CREDENTIALS:
        return
    if len(_checked) > 4096:
        _checked.clear()
    _checked.add((name, value))


def head_prefix(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[bytes, bool]:
    """A request head up to its framing (see `request_head`), and whether it asks the
    server to close the connection (``Connection: close``).

    Raises:
        Framing: If a field or the target could break the request's framing.
    """
    if _UNSAFE_VALUE.search(target) or b" " in target or not target:
        raise Framing(f"the request target {target[:60]!r} holds a space, CR, LF or NUL")
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    close = False
    for name, value in headers:
        _check_field(name, value)
        lowered = name.lower()
        if lowered in _FRAMING_FIELDS:
            continue
        if lowered == b"connection" and b"close" in value.lower():
            close = True
        lines += (name, b": ", value, b"\r\n")
    return b"".join(lines), close


def finish_head(prefix: bytes, method: bytes, body_length: int) -> bytes:
    """``prefix`` (from `head_prefix`) with the framing of a ``body_length``-byte body."""
    if body_length or method in (b"POST", b"PUT", b"PATCH"):
        return b"%bContent-Length: %d\r\n\r\n" % (prefix, body_length)
    return prefix + b"\r\n"


def request_head(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body_length: int
) -> tuple[bytes, bool]:
    """The head of a request whose body (``body_length`` bytes) is sent whole after it,
    and whether it asks the server to close the connection.

    The body's framing is ours to state: any ``Content-Length`` or
    ``Transfer-Encoding`` given is replaced by the body's length.

    Raises:
        Framing: If a field or the target could break the request's framing.
    """
    prefix, close = head_prefix(method, target, headers)
    return finish_head(prefix, method, body_length), close


def parse_head(block: bytes) -> ResponseHead:
    """A response head (``block`` without its closing empty line; lines end in CRLF or LF).

    Raises:
        Framing: If the status line or a field line is malformed, or a field is folded
            over several lines (obsolete, and refused as RFC 9112 allows).
    """
    lines = [line[:-1] if line.endswith(b"\r") else line for line in block.split(b"\n")]
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        raise Framing(f"a malformed status line: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None:
            if line[:1] in (b" ", b"\t"):
                raise Framing("a header folded over several lines (obsolete line folding)")
            # Its name only: the line may hold a credential the server echoed, and a cut
            # one would escape redaction.
            start = _TOKEN.match(line)
            name = start[0][:40] if start else b""
            raise Framing(f"a malformed header line ({len(line)} bytes, starting {name!r})")
        headers.append((field[1].lower(), field[2]))
    minor, status, reason = status_line.groups()
    return ResponseHead(int(status), reason or b"", int(minor), headers)


def body_framing(method: bytes, head: ResponseHead, *, close: bool) -> tuple[int | None, bool]:
    """How the body ends, and whether the connection may be reused after it.

    The framing is the body's length, ``-1`` for a chunked body, or ``None`` for a body
    delimited by the server closing the connection. ``close`` says the request asked
    for the connection to close.

    Raises:
        Framing: If the length is not a number, or two lengths disagree.
    """
    reusable = head.minor == 1 and not close
    length: int | None = None
    codings: list[bytes] = []
    for name, value in head.headers:
        if name == b"content-length":
            for item in value.split(b","):
                item = item.strip()
                if not item.isdigit():
                    raise Framing(f"a Content-Length that is not a number: {value[:40]!r}")
                if length is not None and int(item) != length:
                    raise Framing("two Content-Length values that disagree")
                length = int(item)
        elif name == b"transfer-encoding":
            codings += (coding.strip().lower() for coding in value.split(b","))
        elif name == b"connection" and b"close" in value.lower():
            reusable = False
    status = head.status
    if method == b"HEAD" or status in (204, 304):
        return 0, reusable
    if codings:
        if codings[-1] != b"chunked":
            return None, False  # another coding last: the body ends when the server closes
        if len(codings) > 1 or length is not None:
            reusable = False  # codings we do not undo, or a length smuggled beside them
        return -1, reusable
    if length is None:
        return None, False
    return length, reusable


def chunks(buffer: bytearray) -> Iterator[bytes | Literal[True]]:
    """Parse complete chunks from the front of ``buffer``: yields each chunk's bytes, then
    ``True`` once the last chunk and the trailers have been read; stops when more data is
    needed (what it consumed is removed from ``buffer``).

    Raises:
        Framing: If a size line is not hexadecimal or too long, a chunk is not followed
            by CRLF, or the trailers run past 64 KiB.
    """
    while True:
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > 4096:
                raise Framing("a chunk size line longer than 4096 bytes")
            return
        line = bytes(buffer[:end]).split(b";", 1)[0].strip()
        if not line or line.strip(_HEX) or len(line) > 16:
            raise Framing(f"a chunk size that is not hexadecimal: {line[:40]!r}")
        size = int(line, 16)
        if size == 0:
            # The last chunk, then trailer fields up to an empty line.
            trailers = buffer.find(b"\r\n\r\n", end)
            if trailers < 0:
                if len(buffer) > MAX_HEAD:
                    raise Framing("trailer fields longer than 65536 bytes")
                return
            del buffer[: trailers + 4]
            yield True
            return
        start = end + 2
        if len(buffer) < start + size + 2:
            return
        if buffer[start + size : start + size + 2] != b"\r\n":
            raise Framing("a chunk not followed by CRLF")
        data = bytes(buffer[start : start + size])
        del buffer[: start + size + 2]
        yield data
