"""`RedisBudgetBackend`: budgets shared by every process that uses one Redis.

A key's record is three Redis keys under one hash tag (one Cluster slot): the ledger
hash ``{namespace:budget:<key>}:ledger``, the reservations' expiry times (a sorted set,
``...:holds``) and their amounts (a hash, ``...:held``). Admitting and settling are one
script each, so concurrent calls from any number of processes are admitted one at a
time against the same totals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aether.middleware._budget_ledger import (
    ADMIT_SCRIPT,
    SETTLE_SCRIPT,
    BudgetDecision,
    BudgetLedger,
    BudgetLimits,
)
from aether.middleware._shared_redis import RedisBackend

__all__ = ["RedisBudgetBackend"]

_READ_SCRIPT = """
local reply = {}
for _, name in ipairs({'tokens', 'cost_usd', 'calls', 'unpriced_calls', 'reserved_tokens',
                       'reserved_usd', 'in_flight', 'largest_call_usd'}) do
  table.insert(reply, redis.call('HGET', KEYS[1], name) or '0')
end
return reply
"""

_RESET_SCRIPT = "return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ledger(values: list[Any]) -> BudgetLedger:
    numbers = [float(_text(value)) for value in values]
    return BudgetLedger(
        tokens=int(numbers[0]),
        cost_usd=numbers[1],
        calls=int(numbers[2]),
        unpriced_calls=int(numbers[3]),
        reserved_tokens=int(numbers[4]),
        reserved_usd=max(0.0, numbers[5]),
        in_flight=int(numbers[6]),
        largest_call_usd=numbers[7],
    )


class RedisBudgetBackend(RedisBackend):
    """Keeps budgets in Redis, so every process charges and checks the same ledgers.

    Args:
        redis: An open ``coredis.Redis`` or ``coredis.RedisCluster`` client (yours to
            close), or a URL (``redis://...``, ``redis+cluster://...``): then open the
            backend (``async with backend:``) around its use.
        namespace: The first part of every key.
        fail_open: While Redis is unreachable, let calls go unchecked and uncharged
            (``True``), or refuse them with `SharedStateError` (``False``, the default:
            a budget that cannot be checked is not enforced).
        timeout: Seconds a round trip may take before Redis counts as unreachable.
        retry_interval: Seconds to go without Redis after it failed, before trying again.
        clock: Seconds on a clock every process shares, instead of Redis's own ``TIME``.
    """

    feature = "budget"

    __slots__ = ()

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str = "aether",
        fail_open: bool = False,
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

    def _keys(self, key: str) -> list[str]:
        return [self.shared.key(key, part) for part in ("ledger", "holds", "held")]

    async def reserve(
        self,
        key: str,
        *,
        tokens: int,
        usd: float | None,
        limits: BudgetLimits,
        hold: float,
        ttl: float | None,
    ) -> BudgetDecision:
        """Admit a call with a reservation, or say to wait, or that the budget is spent.

        Raises:
            SharedStateError: Redis is unreachable.
        """
        reply = await self.shared.run(
            ADMIT_SCRIPT,
            self._keys(key),
            [
                self.now_argument(),
                tokens,
                repr(usd) if usd is not None else "-1",
                limits.max_tokens if limits.max_tokens is not None else -1,
                repr(limits.max_cost_usd) if limits.max_cost_usd is not None else "-1",
                repr(hold),
                max(1, round(ttl)) if ttl is not None else 0,
            ],
        )
        outcome = _text(reply[0])
        if outcome == "admitted":
            return BudgetDecision("admitted", reservation=_text(reply[1]))
        if outcome == "spent":
            return BudgetDecision("spent", ledger=_ledger(list(reply[1:])))
        return BudgetDecision("wait")

    async def settle(
        self, key: str, reservation: str, *, tokens: int, cost_usd: float | None, billed: bool
    ) -> None:
        """Release the reservation and charge what the call spent.

        Raises:
            SharedStateError: Redis is unreachable.
        """
        await self.shared.run(
            SETTLE_SCRIPT,
            self._keys(key),
            [
                self.now_argument(),
                reservation,
                tokens,
                repr(cost_usd) if cost_usd is not None else "-1",
                "1" if billed else "0",
            ],
        )

    async def ledger(self, key: str) -> BudgetLedger:
        """What ``key`` has spent and reserved.

        Raises:
            SharedStateError: Redis is unreachable.
        """
        return _ledger(list(await self.shared.run(_READ_SCRIPT, self._keys(key)[:1], [])))

    async def reset(self, key: str) -> None:
        """Forget what ``key`` spent (its calls in flight settle into a fresh ledger).

        Raises:
            SharedStateError: Redis is unreachable.
        """
        await self.shared.run(_RESET_SCRIPT, self._keys(key), [])
