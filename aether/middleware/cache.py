"""The response cache: answers a request it has seen before without calling the provider.

::

    client = Aether(cache=True)                                # in memory, LRU, 1 h ttl
    client = Aether(cache=RedisCacheBackend("redis://...", ttl=86400))   # shared

Opt-in. In the default stack it sits inside the tool loop and outside cost tracking
(tool loop → cache → cost → breaker → retry → events → provider): each model call of the
loop is cached on its own while tools still run every time, and a hit never reaches
cost tracking, so it is not a billed request in ``client.usage``. A hit makes no
provider call, so no ``request.*`` event fires for it (a streamed hit is still a
stream for the caller: the client's ``stream.*`` events fire, with ``cost_usd=0.0``);
`CacheStats`
counts hits, misses and what the hits saved, and the request context's `CACHE_STATUS`
says what happened to the last model call.

- The key (`CacheMiddleware.key`) hashes everything sent to the provider and nothing
  else (see ``aether.middleware._cache_key``), with the provider's name, who answers
  (`provider_identity`: the endpoint and the account) and the mode: a call and a stream
  are cached apart.
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
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TYPE_CHECKING, Any, Literal

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
from aether.middleware._cache_flight import CacheStats, Lease, SingleFlight
from aether.middleware._cache_key import Mode, cache_key
from aether.middleware._cache_memory import InMemoryCacheBackend
from aether.pipeline import CallNext, StreamNext, middleware_name

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
    "provider_identity",
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


class CacheMiddleware:
    """Serves repeated requests from a `CacheBackend`, for calls and streams.

    Args:
        backend: Where entries live; a new `InMemoryCacheBackend` by default.
        provider: The provider whose answers it caches, or only its name. Its name and
            its identity (`provider_identity`: endpoint and account) are part of every
            key, so providers that answer differently never share an entry.
            ``Aether(...)`` gives the cache in its stack the client's provider; give it
            when you build a pipeline yourself.
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

    __slots__ = ("_flights", "_identity", "_warned_unkeyable", "backend", "provider", "stats")

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        provider: object = None,
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
        self.provider: str | None = None
        """The provider's name, as the key holds it."""
        self._identity: str | None = None
        if isinstance(provider, str):
            self.provider = provider
        elif provider is not None:
            self.provider = middleware_name(provider)
            self._identity = provider_identity(provider)
        self.stats = CacheStats()
        self._flights = SingleFlight(
            self.backend, stats=self.stats, lock_timeout=lock_timeout, poll_interval=poll_interval
        )
        self._warned_unkeyable = False

    @property
    def lock_timeout(self) -> float:
        """Seconds a caller waits for an identical request in flight."""
        return self._flights.lock_timeout

    @property
    def poll_interval(self) -> float:
        """The longest pause between two looks at a shared backend."""
        return self._flights.poll_interval

    # -- keys and per-call control ----------------------------------------------------

    def key(self, request: LLMRequest, *, stream: bool = False) -> str:
        """The key ``request`` is cached under, in call mode or (``stream=True``) stream mode.

        Raises:
            ValueError: If the request has no JSON form (see `_cache_key.cache_key`).
        """
        mode: Mode = "stream" if stream else "call"
        return cache_key(request, mode=mode, provider=self.provider, identity=self._identity)

    def _serve(self, provider: object) -> None:
        """Key by ``provider``'s identity: ``Aether(...)`` calls it for its cache.

        Raises:
            ConfigurationError: If this cache already keys by another provider's
                identity: one middleware cannot keep two answerers' entries apart.
        """
        identity = provider_identity(provider)
        if self._identity is None:
            self._identity = identity
        elif self._identity != identity:
            raise ConfigurationError(
                f"this CacheMiddleware caches the answers of {self._identity!r}, so it "
                f"cannot also cache those of {identity!r}, which another endpoint or "
                f"account gives: give each provider its own CacheMiddleware (they can "
                f"share one backend; their keys stay apart)"
            )

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
            return cache_key(request, mode=mode, provider=self.provider, identity=self._identity)
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
            lease = Lease(key, None)
        else:
            found = await self._flights.lookup(key, "call")
            if isinstance(found, CacheEntry):
                request.context[CACHE_STATUS] = "hit"
                assert found.response is not None
                return found.response.model_copy(update={"cost_usd": 0.0})
            lease = found
        request.context[CACHE_STATUS] = "miss"
        self.stats.misses += 1
        flights = self._flights
        try:
            try:
                response = await call_next(request)
            except Exception as error:
                flights.settle(lease, error=error)
                raise
            entry = CacheEntry(response=response)
            flights.settle(lease, entry=entry)
            await flights.store(lease, entry)
            return response
        finally:
            flights.settle(lease)
            if lease.token is not None:
                await flights.unlock(lease)

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
            lease = Lease(key, None)
        else:
            found = await self._flights.lookup(key, "stream")
            if isinstance(found, CacheEntry):
                request.context[CACHE_STATUS] = "hit"
                for chunk in _replay(found):
                    yield chunk
                return
            lease = found
        request.context[CACHE_STATUS] = "miss"
        self.stats.misses += 1
        flights = self._flights
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
                        flights.settle(lease, entry=entry)
                        await flights.store(lease, entry)
                yield chunk
        except Exception as error:
            flights.settle(lease, error=error)
            raise
        finally:
            flights.settle(lease)
            try:
                if inner is not None:
                    await aclose_stream(inner)
            finally:
                if lease.token is not None:
                    await flights.unlock(lease)

    def __repr__(self) -> str:
        return (
            f"CacheMiddleware(backend={self.backend!r}, provider={self.provider!r}, "
            f"lock_timeout={self.lock_timeout!r})"
        )


def provider_identity(provider: object) -> str:
    """Who answers ``provider``'s requests: what the cache key holds beside its name.

    A provider's ``cache_identity`` string when it has one (the built-in ones: name,
    endpoint and a fingerprint of the account, never the key). Otherwise its name, with
    its ``base_url`` when it has one. A provider of your own whose answers depend on an
    account or anything else should set ``cache_identity`` (and keep secrets out of it).
    """
    identity = getattr(provider, "cache_identity", None)
    if isinstance(identity, str) and identity:
        return identity
    name = middleware_name(provider)
    base_url = getattr(provider, "base_url", None)
    return f"{name} {base_url}" if isinstance(base_url, str) and base_url else name


def _replay(entry: CacheEntry) -> Iterator[StreamChunk]:
    chunks = entry.chunks
    yield from chunks[:-1]
    yield chunks[-1].model_copy(update={"cost_usd": 0.0})


def __getattr__(name: str) -> Any:
    if name == "RedisCacheBackend":
        from aether.middleware._cache_redis import RedisCacheBackend

        return RedisCacheBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
