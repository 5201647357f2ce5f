"""The response cache's key: a stable hash of everything that changes the answer.

The key is the SHA-256 of a canonical JSON document holding:

- a key-format version, so a release that changes what goes in starts afresh;
- the mode (``call`` or ``stream``): a call and a stream of the same request are cached
  apart, so a hit gives back exactly what that mode produced;
- the provider's name, and who answers: its identity (endpoint and a fingerprint of the
  account, see `aether.middleware.cache.provider_identity`), so two servers or accounts
  behind one provider name never share an entry;
- every field of the `LLMRequest` that is sent: ``model``, ``messages`` (roles, text or
  parts, tool calls and their ids and signatures, tool-call ids and names of tool turns),
  ``tools`` (name, description and JSON Schema, in order), ``temperature``,
  ``max_tokens``, ``top_p``, ``stop``, ``tool_choice``, ``reasoning`` and
  ``provider_options`` (where a response format, a seed or any vendor parameter goes),
  ``output`` (a structured answer's schema, name and mode: a call for an ``Invoice``
  and one for a ``Receipt`` are cached apart), and ``defaults`` (which of them Aether
  filled in: an adapter may leave those out for some models).

A media part's bytes are not copied into the document: they stand there as their SHA-256
and size (with the part's media type, detail and name), so a 5 MB image adds a 64-digit
hash to the key, and two images that differ in one byte give two keys. The digest is
remembered per part object (`ImagePart.sha256`), so a session that sends the same image with every
turn hashes it once; hashing costs less than the base64 encoding the wire needs anyway
(see benchmarks/README.md). Reasoning parts go in whole (their signature is text), and a
provider-native part's JSON has its keys sorted like the other free-form objects.

The document is canonical: the request's own fields come in their declared order, and the
free-form JSON objects inside it (``provider_options``, each tool's ``parameters``, each
tool call's ``arguments``, the output's JSON Schema) have their keys sorted, so two dicts
that differ only in key order give one key. (Sorting only those, then serialising with
pydantic-core, costs a third of sorting the whole document with the standard library's
``json``.)

Left out on purpose: ``context`` (request-scoped state for middlewares, never sent) and
each tool's ``handler`` (what runs the tool, not what the model sees). Both are excluded
from `LLMRequest` dumps by the contracts themselves, so a new request field is part of
the key as soon as it exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from pydantic_core import to_json

from aether.llm.contracts import AudioPart, DocumentPart, ImagePart, LLMRequest, Message, Part

_MediaPart = ImagePart | AudioPart | DocumentPart

__all__ = ["KEY_VERSION", "Mode", "cache_key"]

KEY_VERSION = 2
"""2: the provider's identity joined the key."""

Mode = Literal["call", "stream"]


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _parts(parts: Sequence[Part], dumped: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts' documents: media bytes replaced by their hash, free-form JSON sorted."""
    documents = []
    for part, document in zip(parts, dumped, strict=True):
        if isinstance(part, _MediaPart) and part.data is not None:
            document = {key: value for key, value in document.items() if key != "data"}
            document["sha256"] = part.sha256()
            document["size"] = len(part.data)
        elif part.type == "provider":
            document["data"] = _sorted(document["data"])
        documents.append(document)
    return documents


def _canonical(fields: dict[str, Any], messages: Sequence[Message]) -> dict[str, Any]:
    """Sort the keys of the request's free-form objects and hash media bytes, in place."""
    if fields["provider_options"]:
        fields["provider_options"] = _sorted(fields["provider_options"])
    for tool in fields["tools"]:
        tool["parameters"] = _sorted(tool["parameters"])
    if fields.get("output") is not None:
        fields["output"]["json_schema"] = _sorted(fields["output"]["json_schema"])
    for message, dumped in zip(messages, fields["messages"], strict=True):
        for call in dumped["tool_calls"]:
            call["arguments"] = _sorted(call["arguments"])
        if not isinstance(message.content, str):
            dumped["content"] = _parts(message.content, dumped["content"])
    return fields


def cache_key(
    request: LLMRequest, *, mode: Mode, provider: str | None, identity: str | None = None
) -> str:
    """The hex SHA-256 of ``request``'s canonical JSON, for ``mode`` and ``provider``.

    ``identity`` says who answers (endpoint and account) when the name alone does not.

    Raises:
        ValueError: If the request holds values that have no JSON form (an object in
            ``provider_options``), so no stable key exists.
    """
    try:
        # Python mode, not JSON mode: JSON mode would turn inf and NaN into null before
        # to_json could keep them apart (``{"x": inf}`` and ``{"x": None}``, one key).
        fields = _canonical(request.model_dump(), request.messages)
        text = to_json(
            {
                "k": KEY_VERSION,
                "mode": mode,
                "provider": provider,
                "identity": identity,
                "request": fields,
            },
            inf_nan_mode="strings",
        )
    except Exception as error:  # pydantic's serialisation error names the field
        raise ValueError(f"the request has no JSON form: {error}") from error
    return hashlib.sha256(text).hexdigest()
