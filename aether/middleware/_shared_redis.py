"""What the Redis backends of rate limiting, budgets and the circuit breaker share.

`SharedRedis` runs one feature's Lua scripts on a ``coredis`` client (single node or
Cluster, on asyncio and trio; a URL is made into one by
`aether.extensions.redis.create_redis_client`), bounds each round trip, and turns an
unreachable Redis
into one outcome the feature decides on: `SharedStateError` when it fails closed, a
quiet "go on without it" when it fails open. After a failure it does not try Redis again
for ``retry_interval`` seconds, so a dead server costs one failed round trip per interval,
not one per call (and a black-holed one does not make every call wait out a timeout).
One warning is logged per outage, and one info line when Redis answers again.

Keys: every key of one feature's record shares one hash tag, ``{namespace:feature:key}``,
so a script touching several of them runs on one Cluster slot. The caller's part of the
key is escaped (``%``, ``{`` and ``}``) so it can never end the tag early.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import anyio

from aether.errors import ConfigurationError, SharedStateError

__all__ = ["RedisBackend", "SharedRedis"]

logger = logging.getLogger("aether.shared_state")

_TRANSPORT_ERRORS = (
    TimeoutError,
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


def _escaped(text: str) -> str:
    return text.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


class SharedRedis:
    """One feature's view of a Redis client: keys, scripts, timeouts and outages.

    Args:
        redis: An open ``coredis.Redis`` or ``coredis.RedisCluster`` (its owner opens
            and closes it), or a URL (``redis://``, ``redis+cluster://``...): the client
            is then made and opened by `open` and closed by `aclose`.
        namespace: The first part of every key, so several apps can share one server.
        feature: ``rate_limit``, ``budget`` or ``circuit_breaker``.
        fail_open: What an unreachable Redis means: go on without it (``True``) or
            refuse the call with `SharedStateError` (``False``).
        timeout: Seconds one round trip may take before Redis counts as unreachable.
        retry_interval: Seconds to skip Redis after it failed.
        clock: Local monotonic seconds, for ``retry_interval``.
    """

    __slots__ = (
        "_clock",
        "_down_until",
        "_scripts",
        "fail_open",
        "feature",
        "handle",
        "namespace",
        "retry_interval",
        "timeout",
    )

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str,
        feature: str,
        fail_open: bool,
        timeout: float = 2.0,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        problems = []
        if not namespace:
            problems.append("namespace must not be empty")
        if not (isinstance(timeout, int | float) and timeout > 0 and math.isfinite(timeout)):
            problems.append(f"timeout must be a number of seconds above 0, not {timeout!r}")
        if not (isinstance(retry_interval, int | float) and retry_interval >= 0):
            problems.append(f"retry_interval must be 0 or more seconds, not {retry_interval!r}")
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)
        from aether.extensions.redis import RedisHandle  # the redis extra, on demand

        what = "Redis" + "".join(part.title() for part in feature.split("_")) + "Backend"
        self.handle = RedisHandle(redis, what=what)
        self.namespace = namespace
        self.feature = feature
        self.fail_open = fail_open
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        self._clock = clock
        self._down_until: float | None = None
        self._scripts: dict[str, Any] = {}  # source: LuaScript (the redis extra)

    def key(self, name: str, suffix: str = "") -> str:
        """The Redis key of ``name``'s record (``suffix`` names a part of it)."""
        tag = f"{{{self.namespace}:{self.feature}:{_escaped(name)}}}"
        return f"{tag}:{suffix}" if suffix else tag

    @property
    def available(self) -> bool:
        """False while a recent failure says to skip Redis."""
        return self._down_until is None or self._clock() >= self._down_until

    def _unavailable(self, error: BaseException | None) -> SharedStateError:
        now = self._clock()
        if self._down_until is None:
            logger.warning(
                "Redis is unreachable for %s (%s); %s until it answers again (retried every %gs)",
                self.feature,
                f"{type(error).__name__}: {error}" if error is not None else "skipped",
                "going on without the shared state" if self.fail_open else "refusing calls",
                self.retry_interval,
            )
        self._down_until = now + self.retry_interval
        return SharedStateError(
            f"the shared {self.feature.replace('_', ' ')} state in Redis cannot be reached "
            f"and this backend fails closed, so the provider was not called; bring Redis "
            f"back, or pass fail_open=True to go on without it during an outage",
            feature=self.feature,
        )

    async def run(self, source: str, keys: Sequence[str], args: Sequence[object]) -> Any:
        """Run the Lua script ``source`` atomically; its reply.

        Raises:
            SharedStateError: Redis is unreachable (or was, within ``retry_interval``).
        """
        if not self.available:
            raise SharedStateError(
                f"Redis was unreachable for {self.feature} moments ago (retried every "
                f"{self.retry_interval:g}s); the call was refused without the shared state",
                feature=self.feature,
            )
        from aether.extensions.redis import (
            LuaScript,
            RedisError,
            RedisNotOpenError,
            RedisReplyError,
        )

        client = self.handle.client  # RedisNotOpenError, with the fix, if never opened
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = LuaScript(source)
        values = [str(arg) for arg in args]
        try:
            with anyio.fail_after(self.timeout), self.handle.errors():
                reply = await script(client, keys, values)
        except (RedisNotOpenError, RedisReplyError):
            raise  # a client closed under us, or a script bug: not an outage
        except (RedisError, *_TRANSPORT_ERRORS) as error:
            raise self._unavailable(error) from error
        if self._down_until is not None:
            self._down_until = None
            logger.info("Redis answers again for %s", self.feature)
        return reply

    async def open(self) -> None:
        """Make and open the client, if this was given a URL."""
        await self.handle.open()

    async def aclose(self) -> None:
        """Close the client, if this made it from a URL."""
        await self.handle.aclose()

    def __repr__(self) -> str:
        return (
            f"SharedRedis(feature={self.feature!r}, namespace={self.namespace!r}, "
            f"fail_open={self.fail_open})"
        )


class RedisBackend:
    """What the Redis backends share: their `SharedRedis`, their clock, their lifecycle.

    A backend given a URL owns its client: open it with ``async with backend:`` (or
    `open`) and it is closed on exit (or by `aclose`); given a client, it leaves both to
    you.
    """

    feature: ClassVar[str]

    __slots__ = ("_clock", "shared")

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str,
        fail_open: bool,
        timeout: float,
        retry_interval: float,
        clock: Callable[[], float] | None,
    ) -> None:
        self.shared = SharedRedis(
            redis,
            namespace=namespace,
            feature=self.feature,
            fail_open=fail_open,
            timeout=timeout,
            retry_interval=retry_interval,
            clock=clock if clock is not None else anyio.current_time,
        )
        self._clock = clock

    @property
    def fail_open(self) -> bool:
        """Whether calls go on without the shared state while Redis is unreachable."""
        return self.shared.fail_open

    def now_argument(self) -> str:
        """The time a script should use: the shared clock's, or ``-1`` for Redis's own."""
        return repr(self._clock()) if self._clock is not None else "-1"

    async def open(self) -> None:
        """Make and open the client, if this backend was given a URL."""
        await self.shared.open()

    async def aclose(self) -> None:
        """Close the client, if this backend made it from a URL."""
        await self.shared.aclose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(namespace={self.shared.namespace!r}, "
            f"fail_open={self.fail_open})"
        )
