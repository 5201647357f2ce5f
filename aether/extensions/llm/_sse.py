"""A small incremental Server-Sent Events parser, with no async generator of its own.

Aether reads streamed answers itself instead of through the SDKs' stream objects: those
nest async generators that they abandon on ``[DONE]``, on errors and on early close,
which trio reports as ``ResourceWarning`` (and which finalise only when collected).
Feeding bytes to a plain object keeps every generator in Aether's hands and closed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEParser", "ServerSentEvent"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its ``event`` name (``None`` if unnamed) and ``data``."""

    event: str | None
    data: str


class SSEParser:
    """Turns a byte stream into events; lines may end in ``\\n``, ``\\r\\n`` or ``\\r``.

    Call `feed` with each chunk as it arrives and `flush` at the end of the stream.
    Comments and fields other than ``event`` and ``data`` are ignored; the data lines
    of one event are joined with ``\\n``, as the specification says.
    """

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Parse ``chunk``; return the events it completed.

        Raises:
            UnicodeDecodeError: If a line is not UTF-8.
        """
        buffer = self._buffer + chunk
        held = b""
        if buffer.endswith(b"\r"):  # its "\n" may be the next chunk's first byte
            buffer, held = buffer[:-1], b"\r"
        lines = buffer.splitlines(keepends=True)
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            held = lines.pop() + held
        self._buffer = held
        events: list[ServerSentEvent] = []
        for raw in lines:
            event = self._line(raw.rstrip(b"\r\n").decode("utf-8"))
            if event is not None:
                events.append(event)
        return events

    def feed_with_ends(self, chunk: bytes) -> list[tuple[ServerSentEvent, int]]:
        """Like `feed`, with the offset in ``chunk`` just past each event's last line.

        Passing on the bytes before ``chunk[:end]`` and ``chunk[:end]`` itself gives
        another SSE reader every event up to that one and none after it (an event ended
        by a lone ``\\r`` needs the next byte too, to tell it from ``\\r\\n``), so a
        reader can pass on exactly the events before a given one.
        """
        held = len(self._buffer)
        buffer = self._buffer + chunk
        kept = b""
        if buffer.endswith(b"\r"):
            buffer, kept = buffer[:-1], b"\r"
        lines = buffer.splitlines(keepends=True)
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            kept = lines.pop() + kept
        self._buffer = kept
        events: list[tuple[ServerSentEvent, int]] = []
        position = -held
        for raw in lines:
            position += len(raw)
            event = self._line(raw.rstrip(b"\r\n").decode("utf-8"))
            if event is not None:
                lone_cr = raw.endswith(b"\r")  # a "\r\n" would have been one line
                events.append((event, max(position + lone_cr, 0)))
        return events

    def flush(self) -> list[ServerSentEvent]:
        """Finish the stream: dispatch a last event that had no blank line after it."""
        events = self.feed(b"\n") if self._buffer else []
        if self._data:
            events.append(ServerSentEvent(self._event, "\n".join(self._data)))
        self._event, self._data = None, []
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = ServerSentEvent(self._event, "\n".join(self._data))
            self._event, self._data = None, []
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None
