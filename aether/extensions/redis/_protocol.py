"""RESP2, the Redis wire protocol: encoding commands and parsing replies, no I/O.

A command is an array of bulk strings; a reply is one of five types (simple string,
error, integer, bulk string, array). The parser works on a growing buffer and reports
"not enough bytes yet" instead of blocking, so the connection decides when to read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aether.extensions.redis._errors import (
    RedisConnectionError,
    RedisError,
    RedisReplyError,
    RedisTimeoutError,
)

__all__ = [
    "Argument",
    "RedisConnectionError",
    "RedisError",
    "RedisProtocolError",
    "RedisReplyError",
    "RedisTimeoutError",
    "Reply",
    "ReplyParser",
    "encode_command",
    "encode_commands",
]

Argument = str | bytes | int | float
"""What a command argument may be; numbers are sent as their decimal text."""

Reply = None | int | bytes | str | list[Any]
"""A parsed reply: ``str`` for simple strings, ``bytes`` for bulk strings, ``list`` for
arrays (an error inside an array, as from ``EXEC``, stays there as a `RedisReplyError`)."""


class RedisProtocolError(RedisError):
    """Redis sent bytes that are not valid RESP (a proxy or a non-Redis server?)."""


def _encode_argument(argument: Argument) -> bytes:
    if isinstance(argument, bytes):
        return argument
    if isinstance(argument, str):
        return argument.encode()
    if isinstance(argument, bool):
        raise TypeError("Redis has no booleans: send 0 or 1")
    if isinstance(argument, int | float):
        return repr(argument).encode()
    raise TypeError(f"cannot send a {type(argument).__name__} to Redis")


def encode_command(arguments: Sequence[Argument]) -> bytes:
    """One command as RESP bytes: ``encode_command(["GET", "key"])``."""
    parts = [b"*%d\r\n" % len(arguments)]
    for argument in arguments:
        data = _encode_argument(argument)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return b"".join(parts)


def encode_commands(commands: Iterable[Sequence[Argument]]) -> bytes:
    """Several commands back to back, for a pipelined round trip."""
    return b"".join(encode_command(command) for command in commands)


class _Incomplete(Exception):
    """The buffer ends before the reply does."""


_INCOMPLETE = _Incomplete()


class ReplyParser:
    """Parses RESP2 replies out of bytes fed in as they arrive.

    ``feed`` appends bytes; ``next_reply`` returns ``(True, reply)`` when a whole reply is
    buffered and ``(False, None)`` when more bytes are needed. An error reply is returned
    as a `RedisReplyError` instance, not raised, so a pipeline reads every reply.
    """

    __slots__ = ("_buffer", "_position")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0

    def feed(self, data: bytes) -> None:
        """Add bytes received from the server."""
        if self._position and self._position == len(self._buffer):
            self._buffer.clear()
            self._position = 0
        self._buffer += data

    @property
    def pending(self) -> int:
        """How many received bytes are not yet parsed."""
        return len(self._buffer) - self._position

    def next_reply(self) -> tuple[bool, Reply | RedisReplyError]:
        """The next whole reply, if the buffer holds one."""
        try:
            reply, position = self._parse(self._position)
        except _Incomplete:
            return False, None
        self._position = position
        if position > 65536 and position * 2 > len(self._buffer):
            del self._buffer[:position]
            self._position = 0
        return True, reply

    def _line(self, start: int) -> tuple[bytes, int]:
        end = self._buffer.find(b"\r\n", start)
        if end < 0:
            raise _INCOMPLETE
        return bytes(self._buffer[start:end]), end + 2

    def _parse(self, start: int) -> tuple[Reply | RedisReplyError, int]:
        buffer = self._buffer
        if start >= len(buffer):
            raise _INCOMPLETE
        kind = buffer[start]
        line, position = self._line(start + 1)
        if kind == 0x24:  # $ bulk string
            length = self._integer(line)
            if length < 0:
                return None, position
            end = position + length
            if end + 2 > len(buffer):
                raise _INCOMPLETE
            return bytes(buffer[position:end]), end + 2
        if kind == 0x2A:  # * array
            count = self._integer(line)
            if count < 0:
                return None, position
            items: list[Any] = []
            for _ in range(count):
                item, position = self._parse(position)
                items.append(item)
            return items, position
        if kind == 0x2B:  # + simple string
            return line.decode(errors="replace"), position
        if kind == 0x3A:  # : integer
            return self._integer(line), position
        if kind == 0x2D:  # - error
            return RedisReplyError(line.decode(errors="replace")), position
        raise RedisProtocolError(
            f"Redis sent a reply starting with byte {kind:#04x}, which is not RESP2; "
            f"check that the URL points at a Redis server"
        )

    @staticmethod
    def _integer(line: bytes) -> int:
        try:
            return int(line)
        except ValueError:
            raise RedisProtocolError(f"Redis sent {line[:40]!r} where a number belongs") from None
