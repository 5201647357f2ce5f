"""`InMemoryCacheBackend`: a least-recently-used map with a time to live and size bounds."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aether.errors import ConfigurationError
from aether.middleware._cache_entry import CacheEntry, encode_entry

__all__ = ["InMemoryCacheBackend"]

logger = logging.getLogger("aether.cache")


@dataclass(slots=True)
class _Slot:
    entry: CacheEntry
    expires_at: float
    size: int


class InMemoryCacheBackend:
    """Keeps entries in this process, least recently used first out.

    Entries are kept as objects (frozen models, safe to share), so a hit costs a dict
    lookup and no decoding. Expired entries are dropped when read, and from the
    least-recently-used end whenever an entry is stored. All operations are synchronous
    inside, so callers on one event loop never race; use one backend per event loop.

    Args:
        max_entries: The most entries kept; storing one more evicts the least recently
            used.
        max_bytes: If set, the most bytes kept, counting each entry as the length of its
            JSON form (`encode_entry`); an entry larger than this is not stored.
        ttl: Seconds an entry lives after it is stored; ``None`` keeps it until evicted.
            Reading an entry does not extend it.
        clock: Returns the time in seconds (``time.monotonic`` by default); tests pass
            their own to expire entries without sleeping.

    Raises:
        ConfigurationError: If a bound or the ttl is not above 0.
    """

    __slots__ = ("_entries", "clock", "max_bytes", "max_entries", "total_bytes", "ttl")

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        max_bytes: int | None = None,
        ttl: float | None = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        problems = []
        if max_entries < 1:
            problems.append(f"max_entries must be at least 1, not {max_entries}")
        if max_bytes is not None and max_bytes < 1:
            problems.append(f"max_bytes must be at least 1 or None, not {max_bytes}")
        if ttl is not None and not ttl > 0:
            problems.append(f"ttl must be a number of seconds above 0, or None; not {ttl}")
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.clock = clock
        self.total_bytes = 0
        """The bytes counted against ``max_bytes`` (0 when it is not set)."""
        self._entries: OrderedDict[str, _Slot] = OrderedDict()

    async def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key`` (now the most recently used), or ``None``."""
        slot = self._entries.get(key)
        if slot is None:
            return None
        if slot.expires_at <= self.clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return slot.entry

    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry``, evicting expired and then least recently used entries."""
        size = 0
        if self.max_bytes is not None:
            size = len(encode_entry(entry).encode())
            if size > self.max_bytes:
                logger.debug(
                    "a %d-byte entry exceeds max_bytes=%d: not cached", size, self.max_bytes
                )
                self._remove(key)
                return
        now = self.clock()
        expires_at = math.inf if self.ttl is None else now + self.ttl
        self._remove(key)
        self._entries[key] = _Slot(entry, expires_at, size)
        self.total_bytes += size
        self._evict(now)

    def _evict(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest_key, oldest = next(iter(entries.items()))
            over = len(entries) > self.max_entries or (
                self.max_bytes is not None and self.total_bytes > self.max_bytes
            )
            if not over and oldest.expires_at > now:
                return
            self._remove(oldest_key)

    def _remove(self, key: str) -> None:
        slot = self._entries.pop(key, None)
        if slot is not None:
            self.total_bytes -= slot.size

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._remove(key)

    async def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.total_bytes = 0

    def __len__(self) -> int:
        """How many entries are kept, expired ones not yet dropped included."""
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        slot = self._entries.get(key) if isinstance(key, str) else None
        return slot is not None and slot.expires_at > self.clock()

    def __repr__(self) -> str:
        return (
            f"InMemoryCacheBackend(entries={len(self._entries)}, max_entries={self.max_entries}, "
            f"max_bytes={self.max_bytes!r}, ttl={self.ttl!r})"
        )
