"""The response cache's key: a stable hash of everything that changes the answer.

The key is the SHA-256 of a canonical JSON document (sorted keys, no spaces) holding:

- a key-format version, so a release that changes what goes in starts afresh;
- the mode (``call`` or ``stream``): a call and a stream of the same request are cached
  apart, so a hit gives back exactly what that mode produced;
- the provider's name;
- every field of the `LLMRequest` that is sent: ``model``, ``messages`` (roles, text,
  tool calls and their ids, tool-call ids and names of tool turns), ``tools`` (name,
  description and JSON Schema, in order), ``temperature``, ``max_tokens``, ``top_p``,
  ``stop``, ``tool_choice`` and ``provider_options`` (where a response format, a seed or
  any vendor parameter goes).

Left out on purpose: ``context`` (request-scoped state for middlewares, never sent) and
each tool's ``handler`` (what runs the tool, not what the model sees). Both are excluded
from `LLMRequest` dumps by the contracts themselves, so a new request field is part of
the key as soon as it exists.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from aether.llm.contracts import LLMRequest

__all__ = ["KEY_VERSION", "Mode", "cache_key"]

KEY_VERSION = 1

Mode = Literal["call", "stream"]

_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def cache_key(request: LLMRequest, *, mode: Mode, provider: str | None) -> str:
    """The hex SHA-256 of ``request``'s canonical JSON, for ``mode`` and ``provider``.

    Raises:
        ValueError: If the request holds values that have no JSON form (an object in
            ``provider_options``, a NaN), so no stable key exists.
    """
    try:
        fields = request.model_dump(mode="json")
    except Exception as error:  # pydantic's serialisation error names the field
        raise ValueError(f"the request has no JSON form: {error}") from error
    document = {"k": KEY_VERSION, "mode": mode, "provider": provider, "request": fields}
    text = _ENCODE(document)
    return hashlib.sha256(text.encode()).hexdigest()
