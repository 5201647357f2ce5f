"""An incremental parser for a JSON object that arrives in pieces: the value so far.

A streamed structured answer is JSON text growing chunk by chunk. Re-parsing the whole
text at every chunk (what ``pydantic_core.from_json(..., allow_partial=True)`` or
``jiter`` would do, having no resumable state) costs time in proportion to the text
received so far, so a long answer gets slower per chunk as it grows. This parser keeps
its state between chunks and reads each character once: a chunk costs time in
proportion to its own length, plus a copy of the containers still open (see
benchmarks/README.md for both, measured).

What the value so far holds (`PartialJSON.value`), so that it never contradicts the
final one:

- every complete value, and every container opened so far with what it holds;
- the string being read, as far as it has arrived (a prefix of its final text), but
  never half an escape sequence or half a surrogate pair;
- not a number, ``true``, ``false`` or ``null`` until a delimiter ends it (``12`` may
  become ``123``), nor a key whose value has not started.

Text before the first ``{`` is skipped (a sentence, a Markdown fence), and so is text
after the object closes. Text that is not JSON stops the parser: the value stays the
last one read, and the answer's validation reports the problem.

Each value returned is a fresh copy of the containers still open, sharing the closed
ones, which are never changed again: a value handed out is never mutated.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PartialJSON"]

_PLAIN = re.compile(r'[^"\\]*')
_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_CHARS = re.compile(r"[0-9eE.+\-]*")
_LETTERS = re.compile(r"[a-z]*")
_LITERALS = {"true": True, "false": False, "null": None}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

# What a container expects next.
_KEY_OR_END, _KEY, _COLON, _VALUE, _COMMA_OR_END, _VALUE_OR_END = range(6)
# The scalar being read.
_NONE, _STRING, _NUMBER, _LITERAL = range(4)


class _Frame:
    __slots__ = ("container", "expect", "key")

    def __init__(self, container: dict[str, Any] | list[Any], expect: int) -> None:
        self.container = container
        self.expect = expect
        self.key: str | None = None


class PartialJSON:
    """Feed it text with `feed`; read the object so far from `value`."""

    __slots__ = (
        "_changed",
        "_done",
        "_escape",
        "_failed",
        "_high",
        "_is_key",
        "_pieces",
        "_root",
        "_scalar",
        "_snapshot",
        "_stack",
        "_started",
    )

    def __init__(self) -> None:
        self._stack: list[_Frame] = []
        self._root: dict[str, Any] | None = None
        self._started = False
        self._done = False
        self._failed = False
        self._scalar = _NONE
        self._is_key = False
        self._pieces: list[str] = []
        self._escape = ""  # an escape sequence cut by the end of a chunk
        self._high = ""  # a high surrogate waiting for its low half
        self._changed = False
        self._snapshot: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """Whether the text stopped being JSON (the value is then the last one read)."""
        return self._failed

    @property
    def done(self) -> bool:
        """Whether the object has closed."""
        return self._done

    @property
    def value(self) -> dict[str, Any] | None:
        """The object so far (``None`` before its ``{``); a new copy only when it changed."""
        if self._changed:
            self._changed = False
            self._snapshot = self._copy(0) if self._stack else self._root
        return self._snapshot

    def feed(self, text: str) -> bool:
        """Read ``text``; return whether the value may have changed."""
        if self._done or self._failed or not text:
            return False
        before = self._changed
        self._changed = False
        try:
            self._read(text)
        except _NotJSON:
            self._failed = True
        changed = self._changed
        self._changed = before or changed
        return changed

    # -- reading ---------------------------------------------------------------------------

    def _read(self, text: str) -> None:
        i, end = 0, len(text)
        if not self._started:
            i = text.find("{")
            if i < 0:
                return
            self._started = True
            self._root = {}
            self._stack.append(_Frame(self._root, _KEY_OR_END))
            self._changed = True
            i += 1
        while i < end:
            scalar = self._scalar
            if scalar == _STRING:
                i = self._string(text, i)
                continue
            if scalar == _NUMBER:
                found = _NUMBER_CHARS.match(text, i).end()  # type: ignore[union-attr]
                self._pieces.append(text[i:found])
                i = found
                if i == end:
                    return
                self._end_number()
                continue
            if scalar == _LITERAL:
                found = _LETTERS.match(text, i).end()  # type: ignore[union-attr]
                self._pieces.append(text[i:found])
                i = found
                if i == end:
                    return
                self._end_literal()
                continue
            i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
            if i == end:
                return
            self._structure(text[i])
            i += 1
            if self._done:
                return

    def _structure(self, char: str) -> None:
        frame = self._stack[-1]
        expect = frame.expect
        if expect == _COMMA_OR_END:
            if char == ",":
                frame.expect = _KEY if isinstance(frame.container, dict) else _VALUE
            elif char == ("}" if isinstance(frame.container, dict) else "]"):
                self._close()
            else:
                raise _NotJSON
        elif expect in (_KEY_OR_END, _KEY):
            if char == '"':
                self._scalar, self._is_key = _STRING, True
            elif char == "}" and expect == _KEY_OR_END:
                self._close()
            else:
                raise _NotJSON
        elif expect == _COLON:
            if char != ":":
                raise _NotJSON
            frame.expect = _VALUE
        elif char == "]" and expect == _VALUE_OR_END:
            self._close()
        else:
            self._start_value(char)

    def _start_value(self, char: str) -> None:
        if char == '"':
            self._scalar, self._is_key = _STRING, False
            self._changed = True  # an empty string is now part of the value
        elif char == "{":
            self._open({}, _KEY_OR_END)
        elif char == "[":
            self._open([], _VALUE_OR_END)
        elif char == "-" or "0" <= char <= "9":
            self._scalar = _NUMBER
            self._pieces.append(char)
        elif char in "tfn":
            self._scalar = _LITERAL
            self._pieces.append(char)
        else:
            raise _NotJSON

    def _open(self, container: dict[str, Any] | list[Any], expect: int) -> None:
        self._put(container)
        self._stack.append(_Frame(container, expect))

    def _close(self) -> None:
        self._stack.pop()
        self._changed = True
        if not self._stack:
            self._done = True

    def _put(self, value: Any) -> None:
        frame = self._stack[-1]
        container = frame.container
        if isinstance(container, dict):
            container[frame.key] = value  # type: ignore[index]
        else:
            container.append(value)
        frame.expect = _COMMA_OR_END
        self._changed = True

    def _string(self, text: str, i: int) -> int:
        end = len(text)
        if self._escape:  # finish the escape the last chunk cut (six characters at most)
            pending, self._escape = self._escape, ""
            joined = pending + text[i : i + 6]
            i += self._unescape(joined, 0) - len(pending)
        while i < end:
            stop = _PLAIN.match(text, i).end()  # type: ignore[union-attr]
            if stop > i:
                self._flush_high()
                self._pieces.append(text[i:stop])
                if not self._is_key:
                    self._changed = True
            if stop == end:
                return end
            if text[stop] == '"':
                self._end_string()
                return stop + 1
            i = self._unescape(text, stop)
        return end

    def _unescape(self, text: str, i: int) -> int:
        """Read the escape at ``text[i]`` (a backslash); keep it for later if it is cut."""
        if i + 1 >= len(text):
            self._escape = text[i:]
            return len(text)
        kind = text[i + 1]
        if kind != "u":
            if kind not in _ESCAPES:
                raise _NotJSON
            self._flush_high()
            self._pieces.append(_ESCAPES[kind])
            self._changed = self._changed or not self._is_key
            return i + 2
        digits = text[i + 2 : i + 6]
        if len(digits) < 4:
            self._escape = text[i:]
            return len(text)
        try:
            code = int(digits, 16)
        except ValueError:
            raise _NotJSON from None
        if 0xD800 <= code <= 0xDBFF:
            self._flush_high()
            self._high = chr(code)
        elif 0xDC00 <= code <= 0xDFFF and self._high:
            pair = 0x10000 + ((ord(self._high) - 0xD800) << 10) + (code - 0xDC00)
            self._high = ""
            self._pieces.append(chr(pair))
        else:
            self._flush_high()
            self._pieces.append(chr(code))
        self._changed = self._changed or not self._is_key
        return i + 6

    def _flush_high(self) -> None:
        if self._high:  # a high surrogate with no low half: kept as it is, as json does
            self._pieces.append(self._high)
            self._high = ""

    def _end_string(self) -> None:
        self._flush_high()
        value = "".join(self._pieces)
        self._pieces.clear()
        self._scalar = _NONE
        if self._is_key:
            frame = self._stack[-1]
            frame.key = value
            frame.expect = _COLON
        else:
            self._put(value)

    def _end_number(self) -> None:
        token = "".join(self._pieces)
        self._pieces.clear()
        self._scalar = _NONE
        try:
            value: Any = float(token) if any(c in token for c in ".eE") else int(token)
        except ValueError:
            raise _NotJSON from None
        self._put(value)

    def _end_literal(self) -> None:
        token = "".join(self._pieces)
        self._pieces.clear()
        self._scalar = _NONE
        if token not in _LITERALS:
            raise _NotJSON
        self._put(_LITERALS[token])

    # -- copying --------------------------------------------------------------------------

    def _copy(self, level: int) -> Any:
        frame = self._stack[level]
        container = frame.container
        inner = level + 1 < len(self._stack)
        reading = self._scalar == _STRING and not self._is_key and not inner
        if isinstance(container, dict):
            copied: dict[str, Any] = dict(container)
            if inner:
                copied[frame.key] = self._copy(level + 1)  # type: ignore[index]
            elif reading:
                copied[frame.key] = "".join(self._pieces)  # type: ignore[index]
            return copied
        items = list(container)
        if inner:
            items[-1] = self._copy(level + 1)
        elif reading:
            items.append("".join(self._pieces))
        return items


class _NotJSON(Exception):
    """The text stopped being JSON."""
