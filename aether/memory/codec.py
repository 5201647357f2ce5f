"""Versioned JSON for stored messages, shared by the stores and free for yours.

Each message is stored as ``{"v": 1, "message": {...}}``: the pydantic fields of
`Message` (defaults left out), under a format version. A later release reads every
version it knows and raises `SessionCorruptedError` for one it does not, rather than
guessing. A whole history, for stores that keep one document per session, is
``{"v": 1, "messages": [...]}``.

Content parts are stored inline, tagged with their ``type``; media bytes as standard
base64 (so a 5 MB image is a 6.7 MB record), which is what every wire sends anyway. Parts
did not need a new version: a text-only message is stored as before, and an earlier
release reading a record with parts reports it as unreadable rather than misreading it.
The JSON is written by pydantic-core in one pass (for a 5 MB image, a quarter of the time
``json.dumps`` of the dumped dict takes: the base64 encoding and little more).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from aether.errors import SessionCorruptedError
from aether.llm.contracts import Message

__all__ = [
    "FORMAT_VERSION",
    "decode_history",
    "decode_message",
    "decode_messages",
    "encode_history",
    "encode_message",
]

FORMAT_VERSION = 1
"""The version this release writes."""


def _dump(message: Message) -> str:
    return message.model_dump_json(exclude_defaults=True)


def encode_message(message: Message) -> str:
    """One message as versioned JSON text."""
    return f'{{"v":{FORMAT_VERSION},"message":{_dump(message)}}}'


def encode_history(messages: Sequence[Message]) -> str:
    """A whole history as one versioned JSON document."""
    return f'{{"v":{FORMAT_VERSION},"messages":[{",".join(map(_dump, messages))}]}}'



def _corrupted(session_id: str, what: str, place: tuple[int, int] | None) -> SessionCorruptedError:
    where = f"record {place[0]} of {place[1]}: " if place is not None else ""
    return SessionCorruptedError(
        f"the stored history of session {session_id!r} cannot be read ({where}{what}); it was "
        f"left untouched. Inspect or delete it (store.delete) to start that session afresh.",
        session_id=session_id,
        record=place[0] if place is not None else None,
    )


def _envelope(
    session_id: str, data: str | bytes, key: str, place: tuple[int, int] | None = None
) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray | memoryview) else data
    except UnicodeDecodeError as error:
        raise _corrupted(session_id, f"not JSON: it is not UTF-8 text ({error})", place) from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise _corrupted(session_id, f"not JSON: {error}", place) from error
    except RecursionError:
        # Deeper than Python's recursion limit: no message of Aether's is.
        raise _corrupted(session_id, "JSON nested too deeply to read", place) from None
    if not isinstance(document, dict) or key not in document:
        raise _corrupted(session_id, f"not an Aether record: no {key!r} field", place)
    version = document.get("v")
    if version != FORMAT_VERSION:
        raise _corrupted(
            session_id,
            f"format version {version!r}, and this Aether reads version {FORMAT_VERSION}; "
            f"a newer Aether may have written it",
            place,
        )
    return document[key]


def _message(session_id: str, data: Any, place: tuple[int, int] | None = None) -> Message:
    try:
        return Message.model_validate(data)
    except ValidationError as error:
        raise _corrupted(
            session_id, f"not a valid message: {error.error_count()} problem(s)", place
        ) from error
    except RecursionError:
        raise _corrupted(session_id, "a message nested too deeply to read", place) from None


def decode_message(session_id: str, data: str | bytes) -> Message:
    """Read one message written by `encode_message`.

    Raises:
        SessionCorruptedError: If ``data`` is not a message of a version this release reads.
    """
    return _message(session_id, _envelope(session_id, data, "message"))


def decode_messages(session_id: str, items: Iterable[str | bytes]) -> list[Message]:
    """Read a sequence of `encode_message` records, oldest first.

    Raises:
        SessionCorruptedError: If a record cannot be read; it names the record (its
            position, 0 the oldest) in its message and in ``record``.
    """
    records = list(items)
    total = len(records)
    messages = []
    for position, item in enumerate(records):
        place = (position, total)
        messages.append(_message(session_id, _envelope(session_id, item, "message", place), place))
    return messages


def decode_history(session_id: str, data: str | bytes) -> list[Message]:
    """Read a history written by `encode_history`.

    Raises:
        SessionCorruptedError: If ``data`` is not a history of a version this release reads.
    """
    items = _envelope(session_id, data, "messages")
    if not isinstance(items, list):
        raise _corrupted(session_id, "'messages' is not a list", None)
    total = len(items)
    return [_message(session_id, item, (position, total)) for position, item in enumerate(items)]
