"""The response cache: answers a request it has seen before without calling the provider.

::

    client = Aether(cache=True)                                # in memory, LRU, 1 h ttl
    client = Aether(cache=RedisCacheBackend("redis://...", ttl=86400))   # shared

Opt-in. In the default stack it sits inside the tool loop and outside cost tracking
(tool loop → cache → cost → breaker → retry → events → provider): each model call of the
loop is cached on its own while tools still run every time, and a hit never reaches
cost tracking, so it is not a billed request in ``client.usage``. A hit makes no
provider call, so no ``request.*`` or ``stream.*`` event fires for it; `CacheStats`
counts hits, misses and what the hits saved, and the request context's `CACHE_STATUS`
says what happened to the last model call.

- The key (`CacheMiddleware.key`) hashes everything sent to the provider and nothing
  else (see ``aether.middleware._cache_key``), with the provider's name and the mode: a
  call and a stream are cached apart.
- A call hit returns the stored response; a stream hit replays the stored chunks in
  order, the same final chunk last. Both report ``cost_usd=0.0``: nothing was billed.
- Only complete answers are stored: never an error, a stream that failed or was
  abandoned before its final chunk, or a cancelled call.
- Concurrent identical requests on a cold key make one provider call: the first caller
  leads, the others wait (up to ``lock_timeout``) and get its answer, or its error. If the
  leader is cancelled or its stream abandoned, a waiter takes over. A
  `SharedCacheBackend` (Redis) extends this across processes with a lock that expires.
- Per call, ``context={CACHE_CONTROL: "bypass"}`` (or ``client.ask(..., cache="bypass")``)
  neither reads nor writes; ``"refresh"`` skips the read, calls the provider and stores
  the new answer.
- The cache fails open: a backend error is logged on ``aether.cache`` and the request
  goes on to the provider.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from aether.errors import ConfigurationError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.middleware._cache_entry import (
    FORMAT_VERSION,
    CacheBackend,
    CacheEntry,
    SharedCacheBackend,
    decode_entry,
    encode_entry,
)
from aether.middleware._cache_key import Mode, cache_key
from aether.middleware._cache_memory import InMemoryCacheBackend
from aether.pipeline import CallNext, StreamNext

if TYPE_CHECKING:
    from aether.middleware._cache_redis import RedisCacheBackend

__all__ = [
    "CACHE_CONTROL",
    "CACHE_STATUS",
    "FORMAT_VERSION",
    "CacheBackend",
    "CacheControl",
    "CacheEntry",
    "CacheMiddleware",
    "CacheStats",
    "CacheStatus",
    "InMemoryCacheBackend",
    "RedisCacheBackend",
    "SharedCacheBackend",
    "decode_entry",
    "encode_entry",
]

logger = logging.getLogger("aether.cache")

CACHE_CONTROL = "aether.cache"
"""The request-context key a caller sets to ``"bypass"`` or ``"refresh"`` the cache."""

CACHE_STATUS = "aether.cache_status"
"""The request-context key where the cache writes what it did for the last model call."""

CacheControl = Literal["use", "bypass", "refresh"]
"""``use`` (the default), ``bypass`` (neither read nor write), ``refresh`` (write only)."""

CacheStatus = Literal["hit", "miss", "bypass"]

_CONTROLS = ("use", "bypass", "refresh")
_FIRST_POLL = 0.005


@dataclass(slots=True)
class CacheStats:
    """What a cache did. ``misses`` counts the provider calls it made (refreshes too).

    ``saved_usd`` sums the original price of the answers served from the cache, where
    that price was known; the saved tokens are those the provider billed for them.
    """

    hits: int = 0
    misses: int = 0
    bypasses: int = 0
    saved_usd: float = 0.0
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0
    backend_errors: int = 0

    @property
    def hit_rate(self) -> float:
        """Hits over hits and misses; 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def reset(self) -> None:
        """Set every counter back to zero."""
        self.hits = self.misses = self.bypasses = self.backend_errors = 0
        self.saved_input_tokens = self.saved_output_tokens = 0
        self.saved_usd = 0.0


@dataclass(slots=True)
class _Flight:
    """One provider call in progress for a key, and what its waiters get from it."""

    done: anyio.Event | None = None
    entry: CacheEntry | None = None
    error: Exception | None = None
    settled: bool = False


@dataclass(slots=True)
class _Lease:
    """The right to call the provider for ``key``: a flight to settle, a lock to release."""

    key: str
    flight: _Flight | None
    token: str | None = None


class _TimedOut:
    """Waiting for the caller in flight took longer than ``lock_timeout``."""


_TIMED_OUT = _TimedOut()


class CacheMiddleware:
    """Serves repeated requests from a `CacheBackend`, for calls and streams.

    Args:
        backend: Where entries live; a new `InMemoryCacheBackend` by default.
        provider: The provider's name, part of every key (``Aether(cache=...)`` sets it
            to the client's provider). Give it when you build a stack yourself and share
            a backend across providers.
        lock_timeout: Seconds a caller waits for an identical request in flight before
            calling the provider itself; also the expiry of a `SharedCacheBackend` lock,
            so a crashed process holds up the others at most this long.
        poll_interval: The longest pause between two looks at a shared backend while
            another process holds the lock (the pauses start at 5 ms and double).

    Raises:
        ConfigurationError: If ``backend`` lacks ``get``/``set``/``delete`` or a time is
            not above 0.
    """

    name = "Cache"

    __slots__ = (
        "_flights",
        "_shared",
        "_warned_unkeyable",
        "backend",
        "lock_timeout",
        "poll_interval",
        "provider",
        "stats",
    )

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        provider: str | None = None,
        lock_timeout: float = 120.0,
        poll_interval: float = 0.1,
    ) -> None:
        problems = []
        if backend is not None and not isinstance(backend, CacheBackend):
            problems.append(
                f"{type(backend).__name__} is not a cache backend: it needs async get, set "
                f"and delete methods (see aether.middleware.cache.CacheBackend)"
            )
        if not lock_timeout > 0:
            problems.append(f"lock_timeout must be a number of seconds above 0, not {lock_timeout}")
        if not poll_interval > 0:
            problems.append(
                f"poll_interval must be a number of seconds above 0, not {poll_interval}"
            )
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)
        self.backend: CacheBackend = backend if backend is not None else InMemoryCacheBackend()
        self._shared = isinstance(self.backend, SharedCacheBackend)
        self.provider = provider
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self.stats = CacheStats()
        self._flights: dict[str, _Flight] = {}
        self._warned_unkeyable = False

    # -- keys and per-call control ----------------------------------------------------

    def key(self, request: LLMRequest, *, stream: bool = False) -> str:
        """The key ``request`` is cached under, in call mode or (``stream=True``) stream mode.

        Raises:
            ValueError: If the request has no JSON form (see `_cache_key.cache_key`).
        """
        return cache_key(request, mode="stream" if stream else "call", provider=self.provider)

    async def invalidate(self, request: LLMRequest, *, stream: bool = False) -> None:
        """Forget the stored answer to ``request`` in the given mode."""
        await self.backend.delete(self.key(request, stream=stream))

    @staticmethod
    def _control(request: LLMRequest) -> str:
        control = request.context.get(CACHE_CONTROL, "use")
        if control not in _CONTROLS:
            raise ConfigurationError(
                f"request.context[{CACHE_CONTROL!r}] is {control!r}; use 'use', 'bypass' "
                f"or 'refresh'"
            )
        return control  # type: ignore[no-any-return]

    def _key_for(self, request: LLMRequest, mode: Mode) -> str | None:
        try:
            return cache_key(request, mode=mode, provider=self.provider)
        except ValueError as error:
            if not self._warned_unkeyable:
                self._warned_unkeyable = True
                logger.warning("a request cannot be cached, so it bypasses the cache: %s", error)
            return None

    def _bypass(self, request: LLMRequest) -> None:
        self.stats.bypasses += 1
        request.context[CACHE_STATUS] = "bypass"

    # -- calls -------------------------------------------------------------------------

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Answer from the cache, or call the provider once and store its response."""
        control = self._control(request)
        key = None if control == "bypass" else self._key_for(request, "call")
        if key is None:
            self._bypass(request)
            return call_next(request)
        return self._call(request, call_next, key, refresh=control == "refresh")

    async def _call(
        self, request: LLMRequest, call_next: CallNext, key: str, *, refresh: bool
    ) -> LLMResponse:
        if refresh:
            lease = _Lease(key, None)
        else:
            found = await self._lookup(key, "call")
            if isinstance(found, CacheEntry):
                request.context[CACHE_STATUS] = "hit"
                assert found.response is not None
                return found.response.model_copy(update={"cost_usd": 0.0})
            lease = found
        request.context[CACHE_STATUS] = "miss"
        self.stats.misses += 1
        try:
            try:
                response = await call_next(request)
            except Exception as error:
                self._settle(lease, error=error)
                raise
            entry = CacheEntry(response=response)
            self._settle(lease, entry=entry)
            await self._store(lease, entry)
            return response
        finally:
            self._settle(lease)
            if lease.token is not None:
                await self._unlock(lease)

    # -- streams -----------------------------------------------------------------------

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Replay a stored stream, or stream from the provider and store it once complete."""
        control = self._control(request)
        key = None if control == "bypass" else self._key_for(request, "stream")
        if key is None:
            self._bypass(request)
            return call_next(request)
        return self._stream(request, call_next, key, refresh=control == "refresh")

    async def _stream(
        self, request: LLMRequest, call_next: StreamNext, key: str, *, refresh: bool
    ) -> AsyncIterator[StreamChunk]:
        if refresh:
            lease = _Lease(key, None)
        else:
            found = await self._lookup(key, "stream")
            if isinstance(found, CacheEntry):
                request.context[CACHE_STATUS] = "hit"
                for chunk in _replay(found):
                    yield chunk
                return
            lease = found
        request.context[CACHE_STATUS] = "miss"
        self.stats.misses += 1
        inner: AsyncIterator[StreamChunk] | None = None
        chunks: list[StreamChunk] | None = []
        try:
            inner = call_next(request)
            async for chunk in inner:
                if chunks is not None:
                    chunks.append(chunk)
                    if chunk.finish_reason is not None:
                        # Complete: store it now, so a consumer that stops at the final
                        # chunk still leaves the answer cached.
                        entry = CacheEntry(chunks=tuple(chunks))
                        chunks = None
                        self._settle(lease, entry=entry)
                        await self._store(lease, entry)
                yield chunk
        except Exception as error:
            self._settle(lease, error=error)
            raise
        finally:
            self._settle(lease)
            try:
                if inner is not None:
                    await aclose_stream(inner)
            finally:
                if lease.token is not None:
                    await self._unlock(lease)

    # -- single flight -----------------------------------------------------------------

    async def _lookup(self, key: str, mode: Mode) -> CacheEntry | _Lease:
        """The stored entry (a hit, counted), or a lease to call the provider."""
        flights = self._flights
        deadline: float | None = None
        while True:
            flight = flights.get(key)
            if flight is not None:
                if deadline is None:
                    deadline = anyio.current_time() + self.lock_timeout
                outcome = await _wait(flight, deadline)
                if outcome is _TIMED_OUT:
                    return _Lease(key, None)
                if isinstance(outcome, CacheEntry):
                    self._count_hit(outcome)
                    return outcome
                continue  # the leader was cancelled or abandoned: take over
            flight = flights[key] = _Flight()
            lease = _Lease(key, flight)
            try:
                entry = await self._read(lease, mode)
            except BaseException:
                self._settle(lease)
                if lease.token is not None:
                    await self._unlock(lease)
                raise
            if entry is None:
                return lease
            self._settle(lease, entry=entry)
            self._count_hit(entry)
            return entry

    async def _read(self, lease: _Lease, mode: Mode) -> CacheEntry | None:
        """Read the backend; with a shared one, wait for or take its lock on a miss."""
        backend = self.backend
        key = lease.key
        if not self._shared:
            try:
                return self._checked(await backend.get(key), mode)
            except Exception as error:
                self._backend_failed("read", error)
                return None
        assert isinstance(backend, SharedCacheBackend)
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
                self._backend_failed("read", error)
                return None
            if state is True:
                return None
            lease.token = None
            if isinstance(state, CacheEntry):
                return self._checked(state, mode)
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return None
            await anyio.sleep(min(pause, remaining))
            pause = min(pause * 2, self.poll_interval)

    @staticmethod
    def _checked(entry: CacheEntry | None, mode: Mode) -> CacheEntry | None:
        if entry is not None and entry.is_stream != (mode == "stream"):
            logger.warning("the cache backend returned a %s entry for a %s key; ignored",
                           "stream" if entry.is_stream else "call", mode)  # fmt: skip
            return None
        return entry

    def _settle(
        self, lease: _Lease, *, entry: CacheEntry | None = None, error: Exception | None = None
    ) -> None:
        """End the flight once: hand its waiters the entry, the error, or the lead."""
        flight = lease.flight
        if flight is None or flight.settled:
            return
        flight.settled = True
        flight.entry = entry
        flight.error = error
        if self._flights.get(lease.key) is flight:
            del self._flights[lease.key]
        if flight.done is not None:
            flight.done.set()

    async def _store(self, lease: _Lease, entry: CacheEntry) -> None:
        backend = self.backend
        try:
            if lease.token is not None:
                assert isinstance(backend, SharedCacheBackend)
                await backend.set_and_unlock(lease.key, entry, token=lease.token)
                lease.token = None
            else:
                await backend.set(lease.key, entry)
        except Exception as error:
            self._backend_failed("store", error)

    async def _unlock(self, lease: _Lease) -> None:
        token, lease.token = lease.token, None
        if token is None:
            return
        backend = self.backend
        assert isinstance(backend, SharedCacheBackend)
        # Shielded: a cancelled leader must still free the lock others are polling.
        with anyio.CancelScope(shield=True):
            try:
                await backend.unlock(lease.key, token=token)
            except Exception as error:
                self._backend_failed("release the lock of", error)

    def _count_hit(self, entry: CacheEntry) -> None:
        stats = self.stats
        stats.hits += 1
        stats.saved_input_tokens += entry.input_tokens
        stats.saved_output_tokens += entry.output_tokens
        cost = entry.cost_usd
        if cost is not None:
            stats.saved_usd += cost

    def _backend_failed(self, action: str, error: Exception) -> None:
        self.stats.backend_errors += 1
        logger.warning(
            "the cache backend could not %s an entry (%s: %s); the request goes on without "
            "the cache",
            action,
            type(error).__name__,
            error,
        )

    def __repr__(self) -> str:
        return (
            f"CacheMiddleware(backend={self.backend!r}, provider={self.provider!r}, "
            f"lock_timeout={self.lock_timeout!r})"
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


def _replay(entry: CacheEntry) -> Iterator[StreamChunk]:
    chunks = entry.chunks
    yield from chunks[:-1]
    yield chunks[-1].model_copy(update={"cost_usd": 0.0})


def __getattr__(name: str) -> Any:
    if name == "RedisCacheBackend":
        from aether.middleware._cache_redis import RedisCacheBackend

        return RedisCacheBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
