"""`RedisRateLimitBackend`: rate limits shared by every process that uses one Redis.

Each limit of a key is one string key holding its GCRA timestamp,
``{namespace:rate_limit:<key>}:requests`` and ``...:tokens``: one hash tag, so the
reserving script touches both atomically on one Cluster slot. Time is Redis's own clock
(``TIME`` inside the script), so machines whose clocks disagree still agree on the
schedule; a key expires a minute after its bucket is full again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aether.middleware._gcra import ADJUST_SCRIPT, RESERVE_SCRIPT, LimitUse
from aether.middleware._shared_redis import RedisBackend

__all__ = ["RedisRateLimitBackend"]


class RedisRateLimitBackend(RedisBackend):
    """Keeps rate limits in Redis, so a fleet of processes holds them together.

    ::

        async with coredis.Redis.from_url("redis://redis:6379/0") as redis:
            limiter = RateLimitMiddleware(
                RateLimitPolicy(requests_per_minute=500),
                backend=RedisRateLimitBackend(redis, namespace="myapp"),
            )

    Args:
        redis: An open ``coredis.Redis`` or ``coredis.RedisCluster`` client (yours to
            close), or a URL (``redis://...``, ``redis+cluster://...``): then open the
            backend (``async with backend:``) around its use.
        namespace: The first part of every key.
        fail_open: While Redis is unreachable, let calls go without waiting (``True``,
            the default) or refuse them with `SharedStateError` (``False``).
        timeout: Seconds a round trip may take before Redis counts as unreachable.
        retry_interval: Seconds to go without Redis after it failed, before trying again.
        clock: Seconds on a clock every process shares, instead of Redis's own ``TIME``
            (tests pass a clock they control).
    """

    feature = "rate_limit"

    __slots__ = ()

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str = "aether",
        fail_open: bool = True,
        timeout: float = 2.0,
        retry_interval: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            redis,
            namespace=namespace,
            fail_open=fail_open,
            timeout=timeout,
            retry_interval=retry_interval,
            clock=clock,
        )

    def _arguments(self, uses: Sequence[LimitUse]) -> list[object]:
        arguments: list[object] = [self.now_argument()]
        for use in uses:
            arguments += [
                repr(use.interval),
                repr(use.capacity),
                repr(use.amount),
                repr(use.given_back),
            ]
        return arguments

    async def reserve(self, key: str, uses: Sequence[LimitUse]) -> float:
        """Book the call on every limit in one script; the seconds it must wait.

        Raises:
            SharedStateError: Redis is unreachable.
        """
        keys = [self.shared.key(key, use.limit) for use in uses]
        reply = await self.shared.run(RESERVE_SCRIPT, keys, self._arguments(uses))
        return max(0.0, float(reply.decode() if isinstance(reply, bytes) else reply))

    async def adjust(self, key: str, uses: Sequence[LimitUse]) -> None:
        """Take (or give back, when negative) ``use.amount`` units of each limit.

        Raises:
            SharedStateError: Redis is unreachable.
        """
        keys = [self.shared.key(key, use.limit) for use in uses]
        await self.shared.run(ADJUST_SCRIPT, keys, self._arguments(uses))
