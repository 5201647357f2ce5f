"""Single flight: one provider call per cold key, however many identical callers.

The first caller for a key registers a flight before its first await and reads the
backend (with a `SharedCacheBackend`, it also waits for or takes the backend's lock, so
processes agree too). Later callers wait on the flight. The flight is settled exactly
once: with the entry (waiters serve it as a hit), with the error (waiters raise it), or
with nothing when the leader was cancelled or its stream abandoned (a waiter takes over).
Nobody waits longer than ``lock_timeout``. Backend errors are logged and counted, and the
request goes on without the cache.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import anyio

from aether.llm.contracts import TokenCounts
from aether.middleware._cache_entry import CacheBackend, CacheEntry, SharedCacheBackend
from aether.middleware._cache_key import Mode

__all__ = ["CacheStats", "Lease", "SingleFlight"]

logger = logging.getLogger("aether.cache")

_NO_TOKENS = TokenCounts()
_FIRST_POLL = 0.005
_UNLOCK_TIMEOUT = 5.0
"""Seconds a shielded lock release may take; past that the lock is left to expire."""


@dataclass(slots=True)
class CacheStats:
    """What a cache did. ``misses`` counts the provider calls it made (refreshes too).

    ``saved_usd`` sums the original price of the answers served from the cache, where
    that price was known; ``saved_tokens`` sums what the provider billed for them
    (``saved_input_tokens`` and ``saved_output_tokens`` read it).
    """

    hits: int = 0
    misses: int = 0
    bypasses: int = 0
    saved_usd: float = 0.0
    saved_tokens: TokenCounts = _NO_TOKENS
    backend_errors: int = 0

    @property
    def saved_input_tokens(self) -> int:
        """Input tokens the hits saved (``saved_tokens.input``)."""
        return self.saved_tokens.input

    @property
    def saved_output_tokens(self) -> int:
        """Output tokens the hits saved (``saved_tokens.output``)."""
        return self.saved_tokens.output

    @property
    def hit_rate(self) -> float:
        """Hits over hits and misses; 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def reset(self) -> None:
        """Set every counter back to zero."""
        self.hits = self.misses = self.bypasses = self.backend_errors = 0
        self.saved_tokens = _NO_TOKENS
        self.saved_usd = 0.0


@dataclass(slots=True)
class _Flight:
    """One provider call in progress for a key, and what its waiters get from it."""

    done: anyio.Event | None = None
    entry: CacheEntry | None = None
    error: Exception | None = None
    settled: bool = False


@dataclass(slots=True)
class Lease:
    """The right to call the provider for ``key``: a flight to settle, a lock to release."""

    key: str
    flight: _Flight | None
    token: str | None = None


class _TimedOut:
    """Waiting for the caller in flight took longer than ``lock_timeout``."""


_TIMED_OUT = _TimedOut()


class SingleFlight:
    """The flights in progress for one cache, and the reads and writes of its backend.

    Args:
        backend: Where entries live.
        stats: Where hits and backend errors are counted.
        lock_timeout: Seconds a caller waits for another before calling the provider
            itself; also the expiry of a shared backend's lock.
        poll_interval: The longest pause between two looks at a shared backend.
    """

    __slots__ = ("backend", "flights", "lock_timeout", "poll_interval", "shared", "stats")

    shared: SharedCacheBackend | None
    """The backend again when it is a `SharedCacheBackend` (it locks), else ``None``."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        stats: CacheStats,
        lock_timeout: float,
        poll_interval: float,
    ) -> None:
        self.backend = backend
        self.shared = backend if isinstance(backend, SharedCacheBackend) else None
        self.stats = stats
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self.flights: dict[str, _Flight] = {}

    async def lookup(self, key: str, mode: Mode) -> CacheEntry | Lease:
        """The stored entry (a hit, counted), or a lease to call the provider."""
        flights = self.flights
        deadline: float | None = None
        while True:
            flight = flights.get(key)
            if flight is not None:
                if deadline is None:
                    deadline = anyio.current_time() + self.lock_timeout
                outcome = await _wait(flight, deadline)
                if outcome is _TIMED_OUT:
                    return Lease(key, None)
                if isinstance(outcome, CacheEntry):
                    self.count_hit(outcome)
                    return outcome
                continue  # the leader was cancelled or abandoned: take over
            flight = flights[key] = _Flight()
            lease = Lease(key, flight)
            try:
                entry = await self.read(lease, mode)
            except BaseException:
                self.settle(lease)
                if lease.token is not None:
                    await self.unlock(lease)
                raise
            if entry is None:
                return lease
            self.settle(lease, entry=entry)
            self.count_hit(entry)
            return entry

    async def read(self, lease: Lease, mode: Mode) -> CacheEntry | None:
        """Read the backend; with a shared one, wait for or take its lock on a miss."""
        key = lease.key
        backend = self.shared
        if backend is None:
            try:
                return self.checked(await self.backend.get(key), mode)
            except Exception as error:
                self.backend_failed("read", error)
                return None
        token = secrets.token_hex(16)
        deadline = anyio.current_time() + self.lock_timeout
        pause = _FIRST_POLL
        while True:
            # Set before the round trip: if a cancellation interrupts it, the lock may
            # be ours, and the caller releases it.
            lease.token = token
            try:
                state = await backend.get_or_lock(key, token=token, lock_ttl=self.lock_timeout)
            except Exception as error:
                # Not released: Redis is failing, and the lock expires on its own.
                lease.token = None
                self.backend_failed("read", error)
                return None
            if state is True:
                return None
            lease.token = None
            if isinstance(state, CacheEntry):
                return self.checked(state, mode)
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return None
            await anyio.sleep(min(pause, remaining))
            pause = min(pause * 2, self.poll_interval)

    @staticmethod
    def checked(entry: CacheEntry | None, mode: Mode) -> CacheEntry | None:
        """``entry``, or ``None`` (logged) if it is of the other mode's kind."""
        if entry is not None and entry.is_stream != (mode == "stream"):
            logger.warning("the cache backend returned a %s entry for a %s key; ignored",
                           "stream" if entry.is_stream else "call", mode)  # fmt: skip
            return None
        return entry

    def settle(
        self, lease: Lease, *, entry: CacheEntry | None = None, error: Exception | None = None
    ) -> None:
        """End the flight once: hand its waiters the entry, the error, or the lead."""
        flight = lease.flight
        if flight is None or flight.settled:
            return
        flight.settled = True
        flight.entry = entry
        flight.error = error
        if self.flights.get(lease.key) is flight:
            del self.flights[lease.key]
        if flight.done is not None:
            flight.done.set()

    async def store(self, lease: Lease, entry: CacheEntry) -> None:
        """Write ``entry`` (releasing the lease's lock with it); failures are logged."""
        try:
            if lease.token is not None and self.shared is not None:
                await self.shared.set_and_unlock(lease.key, entry, token=lease.token)
                lease.token = None
            else:
                await self.backend.set(lease.key, entry)
        except Exception as error:
            self.backend_failed("store", error)

    async def unlock(self, lease: Lease) -> None:
        """Release the lease's lock, if it holds one, even when cancelled."""
        token, lease.token = lease.token, None
        backend = self.shared
        if token is None or backend is None:
            return
        # Shielded: a cancelled leader must still free the lock others are polling; and
        # bounded, so a backend that hangs cannot hold up the cancellation for long.
        with anyio.CancelScope(shield=True), anyio.move_on_after(_UNLOCK_TIMEOUT):
            try:
                await backend.unlock(lease.key, token=token)
            except Exception as error:
                self.backend_failed("release the lock of", error)

    def count_hit(self, entry: CacheEntry) -> None:
        """Count a hit and what it saved."""
        stats = self.stats
        stats.hits += 1
        stats.saved_tokens = stats.saved_tokens + entry.tokens
        cost = entry.cost_usd
        if cost is not None:
            stats.saved_usd += cost

    def backend_failed(self, action: str, error: Exception) -> None:
        """Log and count a backend failure; the request goes on without the cache."""
        self.stats.backend_errors += 1
        logger.warning(
            "the cache backend could not %s an entry (%s: %s); the request goes on without "
            "the cache",
            action,
            type(error).__name__,
            error,
        )


async def _wait(flight: _Flight, deadline: float) -> CacheEntry | _TimedOut | None:
    """Wait for ``flight``: its entry, ``None`` if it ended without one, or a timeout.

    Raises:
        Exception: The error the flight's provider call failed with.
    """
    if flight.done is None:
        flight.done = anyio.Event()
    with anyio.CancelScope(deadline=deadline) as scope:
        await flight.done.wait()
    if scope.cancelled_caught:
        return _TIMED_OUT
    if flight.error is not None:
        raise flight.error
    return flight.entry
