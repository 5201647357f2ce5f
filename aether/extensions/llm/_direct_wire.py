"""The pieces of the direct path's requests and answers, as the openai SDK has them.

`aether.extensions.llm._direct_post` sends; this module says how a timeout, a query and
an answer look on the wire the way the SDK would have written or read them: timeouts by
phase, ``extra_query`` encoded, 2xx bodies decoded, error bodies kept as its status
errors keep them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio

from aether.extensions.llm._http import (
    CLEANUP_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    body_chunks,
)
from aether.extensions.llm._json_body import loads

__all__ = [
    "StatusFailure",
    "decode_json",
    "drain_and_close",
    "query_items",
    "read_body",
    "read_timeout_header",
    "status_failure",
    "timeout_extension",
]


class StatusFailure(Exception):
    """An HTTP error status, as the adapters read the SDK's status errors.

    Attributes:
        status_code: The HTTP status.
        body: The ``error`` member of a JSON body, else the JSON, else the text (empty
            for an empty body).
        message: ``"Error code: <status>"`` and the server's message, the SDK's wording.
        response: The ``httpx2.Response`` (read and closed), for its headers.
    """

    def __init__(self, message: str, *, status_code: int, body: object, response: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.response = response


def timeout_extension(timeout: Any) -> dict[str, float | None]:
    """The per-phase timeouts of an httpx2 request for ``timeout``.

    ``None`` is the SDK's default (600 s, 5 s to connect); a number applies to every
    phase; an ``httpx.Timeout`` or ``httpx2.Timeout`` keeps its phases.
    """
    if timeout is None:
        return {
            "connect": DEFAULT_CONNECT_TIMEOUT,
            "read": DEFAULT_TIMEOUT,
            "write": DEFAULT_TIMEOUT,
            "pool": DEFAULT_TIMEOUT,
        }
    if isinstance(timeout, int | float):
        seconds = float(timeout)
        return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    as_dict = getattr(timeout, "as_dict", None)
    if callable(as_dict):
        phases: dict[str, float | None] = as_dict()
        return phases
    raise TypeError(f"a timeout must be seconds or an httpx2.Timeout, not {timeout!r}")


def read_timeout_header(timeout: Any) -> str | None:
    """``X-Stainless-Read-Timeout`` for a per-call ``timeout``, as the SDK writes it."""
    read = getattr(timeout, "read", timeout)
    return None if read is None else str(read)


def query_items(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``extra_query`` as the openai SDK writes a query string.

    A list's items each under ``key[]``, an object's members under ``key[member]``,
    booleans as ``true``/``false``; ``None`` leaves the parameter out.
    """
    items: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for member, item in value.items():
                add(f"{key}[{member}]", item)
        elif isinstance(value, list | tuple):
            for item in value:
                add(f"{key}[]", item)
        elif value is not None:
            text = "true" if value is True else "false" if value is False else str(value)
            items.append((key, text))

    for key, value in params.items():
        add(str(key), value)
    return items


def decode_json(content: bytes, content_type: str) -> object:
    """A 2xx body as the SDK returns it: parsed JSON, or the text of a non-JSON type.

    Raises:
        json.JSONDecodeError: If a JSON content type carries invalid JSON.
    """
    if not content_type.split(";", 1)[0].strip().endswith("json"):
        return content.decode("utf-8", errors="replace")
    return loads(content)


def status_failure(response: Any, content: bytes) -> StatusFailure:
    status = response.status_code
    message = f"Error code: {status}"
    text = content.decode("utf-8", errors="replace").strip()
    body: object = text
    try:
        body = json.loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error", body) if isinstance(body, dict) else None
        said = error.get("message") if isinstance(error, dict) else None
        if isinstance(said, str) and said:
            message += f" - {said}"
    if isinstance(body, dict):
        body = body.get("error", body)
    return StatusFailure(message, status_code=status, body=body, response=response)


async def read_body(response: Any) -> bytes:
    """The whole body of ``response``, which is closed after (also on errors)."""
    try:
        content = b"".join([part async for part in body_chunks(response)])
    except BaseException:
        with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
            await response.aclose()
        raise
    await response.aclose()  # the body was read: closing only marks it so
    return content


async def drain_and_close(response: Any) -> None:
    """Read a redirect's body, as httpx does, so its connection is reused; then close it."""
    try:
        await response.aread()
    finally:
        with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
            await response.aclose()
