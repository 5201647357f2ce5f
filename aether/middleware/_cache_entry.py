"""What the response cache stores, how it is written as JSON, and what a backend implements.

An entry is one provider answer: a whole `LLMResponse` (call mode) or every chunk of a
completed stream, final chunk last (stream mode). Stored as versioned JSON,
``{"v": 2, "created_at": ..., "response": {...}}`` or ``{"v": 2, "created_at": ...,
"chunks": [...]}`` (pydantic fields, defaults left out). A release reads the versions it
knows; `decode_entry` raises `ValueError` for anything else, and the cache treats that
entry as a miss.

Version 2 holds token counts as one ``tokens`` object and content parts (media as base64,
reasoning with its signature); version 1 entries, written before, are misses (a cache
refills itself, so they are not converted).
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aether.llm.contracts import LLMResponse, StreamChunk, TokenCounts

__all__ = [
    "FORMAT_VERSION",
    "CacheBackend",
    "CacheEntry",
    "SharedCacheBackend",
    "decode_entry",
    "encode_entry",
]

FORMAT_VERSION = 2
"""The entry format this release writes."""


class CacheEntry(BaseModel):
    """One cached answer: a call's ``response``, or a completed stream's ``chunks``.

    Attributes:
        response: The whole response, for an entry stored by a call.
        chunks: Every chunk of a stream, the final chunk last, for an entry stored by a
            stream.
        created_at: When it was stored (seconds since the epoch).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    response: LLMResponse | None = None
    chunks: tuple[StreamChunk, ...] = ()
    created_at: float = Field(default_factory=time.time)

    @model_validator(mode="after")
    def _one_kind(self) -> CacheEntry:
        if (self.response is None) == (not self.chunks):
            raise ValueError("a cache entry holds either a response or a stream's chunks")
        if self.chunks and self.chunks[-1].finish_reason is None:
            raise ValueError("a cached stream must end with its final chunk")
        return self

    @property
    def is_stream(self) -> bool:
        """Whether the entry holds a stream's chunks (rather than a response)."""
        return self.response is None

    @property
    def final(self) -> StreamChunk | None:
        """A stream entry's final chunk (``None`` for a response entry)."""
        return self.chunks[-1] if self.chunks else None

    @property
    def cost_usd(self) -> float | None:
        """What the answer cost when the provider produced it, if its price was known."""
        if self.response is not None:
            return self.response.cost_usd
        return self.chunks[-1].cost_usd

    @property
    def tokens(self) -> TokenCounts:
        """The tokens the provider billed for the answer."""
        if self.response is not None:
            return self.response.tokens
        tokens = self.chunks[-1].tokens
        return tokens if tokens is not None else TokenCounts()


class _Document(BaseModel):
    """The stored JSON: an entry under a format version."""

    model_config = ConfigDict(frozen=True)

    v: int
    created_at: float
    response: LLMResponse | None = None
    chunks: tuple[StreamChunk, ...] = ()


def encode_entry(entry: CacheEntry) -> str:
    """``entry`` as versioned JSON text."""
    document = _Document(
        v=FORMAT_VERSION, created_at=entry.created_at, response=entry.response, chunks=entry.chunks
    )
    return document.model_dump_json(exclude_defaults=True)


def _version_problem(version: object) -> str:
    older = isinstance(version, int) and version < FORMAT_VERSION
    written_by = "an earlier" if older else "a newer"
    return (
        f"format version {version!r}, and this Aether reads version {FORMAT_VERSION}; "
        f"{written_by} Aether may have written it"
    )


def _version_of(data: str | bytes) -> Any:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return document.get("v") if isinstance(document, dict) else None


def decode_entry(data: str | bytes) -> CacheEntry:
    """Read an entry written by `encode_entry`.

    Raises:
        ValueError: If ``data`` is not an entry of a version this release reads.
    """
    try:
        document = _Document.model_validate_json(data)
    except ValidationError as error:
        version = _version_of(data)
        if version is not None and version != FORMAT_VERSION:
            raise ValueError(_version_problem(version)) from None
        raise ValueError(
            f"not a cache entry: {error.error_count()} problem(s), the first: "
            f"{error.errors()[0]['msg']}"
        ) from None
    if document.v != FORMAT_VERSION:
        raise ValueError(_version_problem(document.v))
    try:
        return CacheEntry(
            response=document.response, chunks=document.chunks, created_at=document.created_at
        )
    except ValidationError as error:
        raise ValueError(f"not a cache entry: {error.errors()[0]['msg']}") from None


@runtime_checkable
class CacheBackend(Protocol):
    """Where the response cache keeps its entries.

    Keys are the hex digests `CacheMiddleware.key` computes; a backend may prefix them.
    A backend that cannot read what it holds under a key (corrupt or foreign data)
    returns ``None`` from `get`, so the cache treats it as a miss and overwrites it.
    Any exception a backend raises is logged by the cache and the request goes on
    without it (the cache fails open).
    """

    async def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key``, or ``None`` if there is none (or it expired)."""
        ...

    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` under ``key``, replacing what was there."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; an unknown key is not an error."""
        ...


@runtime_checkable
class SharedCacheBackend(CacheBackend, Protocol):
    """A backend shared by processes, which lets them agree on who calls the provider.

    On a miss, one caller takes a lock (with an expiry, so a crashed process's lock frees
    itself) and calls the provider; the others poll `get_or_lock` until the entry
    appears or the lock is gone.
    """

    async def get_or_lock(self, key: str, *, token: str, lock_ttl: float) -> CacheEntry | bool:
        """In one atomic step: the entry if stored; else take the lock for ``token``.

        Returns:
            The entry; ``True`` if the lock is now held for ``token``; ``False`` if
            another caller holds it.
        """
        ...

    async def set_and_unlock(self, key: str, entry: CacheEntry, *, token: str) -> None:
        """Store ``entry``, then release the lock if ``token`` still holds it."""
        ...

    async def unlock(self, key: str, *, token: str) -> None:
        """Release the lock if ``token`` still holds it."""
        ...
