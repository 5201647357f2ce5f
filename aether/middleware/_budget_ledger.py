"""Budget ledgers: what a key has spent and reserved, in memory or in Redis.

A ledger is admitted against with a reservation (an estimate of what a call may spend)
and settled with what the call really spent. The rule, the same in both backends:

- spent (tokens or dollars at or past a limit): refuse;
- nothing in flight: admit (the call goes alone, so the overshoot is at most what it
  spends beyond the remainder);
- what is spent plus what calls in flight reserved plus this call's reservation fits:
  admit;
- otherwise: wait for a call in flight to settle, then look again.

Reservations expire after ``hold`` seconds, so a process that dies mid-call does not
hold its reservation forever; a call settling after its reservation expired still
charges what it spent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio

__all__ = [
    "ADMIT_SCRIPT",
    "SETTLE_SCRIPT",
    "BudgetDecision",
    "BudgetLedger",
    "BudgetLimits",
    "InMemoryBudgetBackend",
]


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """A key's limits; ``None`` for no limit of that kind."""

    max_tokens: int | None
    max_cost_usd: float | None


@dataclass(slots=True)
class BudgetLedger:
    """What one key has spent, and what its calls in flight have reserved."""

    tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    unpriced_calls: int = 0
    reserved_tokens: int = 0
    reserved_usd: float = 0.0
    in_flight: int = 0
    largest_call_usd: float = 0.0

    def spent(self, limits: BudgetLimits) -> bool:
        """Whether a limit is reached."""
        return (limits.max_tokens is not None and self.tokens >= limits.max_tokens) or (
            limits.max_cost_usd is not None and self.cost_usd >= limits.max_cost_usd
        )

    def fits(self, limits: BudgetLimits, tokens: int, usd: float) -> bool:
        """Whether a call reserving ``tokens`` and ``usd`` may go now."""
        if self.in_flight == 0:
            return True
        return (
            limits.max_tokens is None
            or self.tokens + self.reserved_tokens + tokens <= limits.max_tokens
        ) and (
            limits.max_cost_usd is None
            or self.cost_usd + self.reserved_usd + usd <= limits.max_cost_usd + 1e-12
        )


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    """A backend's answer: admitted with a reservation id, wait, or spent."""

    outcome: Literal["admitted", "wait", "spent"]
    reservation: str | None = None
    ledger: BudgetLedger | None = None


@dataclass(slots=True)
class _Entry:
    ledger: BudgetLedger = field(default_factory=BudgetLedger)
    reservations: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    expires_at: float | None = None


class InMemoryBudgetBackend:
    """The ledgers of one process (the default). Steps are synchronous, so atomic.

    Args:
        clock: Monotonic seconds, for reservation and ledger expiry.
    """

    __slots__ = ("_clock", "_entries", "_ids")

    def __init__(self, *, clock: Callable[[], float] = anyio.current_time) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._ids = itertools.count(1)

    def _entry(self, key: str, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None or (entry.expires_at is not None and now >= entry.expires_at):
            entry = self._entries[key] = _Entry()
        for reservation, (tokens, usd, until) in list(entry.reservations.items()):
            if until <= now:
                self._release(entry, reservation, tokens, usd)
        return entry

    @staticmethod
    def _release(entry: _Entry, reservation: str, tokens: int, usd: float) -> None:
        del entry.reservations[reservation]
        ledger = entry.ledger
        ledger.in_flight -= 1
        ledger.reserved_tokens -= tokens
        ledger.reserved_usd = max(0.0, ledger.reserved_usd - usd) if ledger.in_flight else 0.0

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
        now = self._clock()
        entry = self._entry(key, now)
        if ttl is not None and entry.expires_at is None:
            entry.expires_at = now + ttl
        ledger = entry.ledger
        if ledger.spent(limits):
            return BudgetDecision("spent", ledger=_copy(ledger))
        amount = ledger.largest_call_usd if usd is None else usd
        if not ledger.fits(limits, tokens, amount):
            return BudgetDecision("wait")
        reservation = str(next(self._ids))
        entry.reservations[reservation] = (tokens, amount, now + hold)
        ledger.in_flight += 1
        ledger.reserved_tokens += tokens
        ledger.reserved_usd += amount
        return BudgetDecision("admitted", reservation=reservation)

    async def settle(
        self, key: str, reservation: str, *, tokens: int, cost_usd: float | None, billed: bool
    ) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return  # reset (or expired) meanwhile: nothing to charge it to
        held = entry.reservations.get(reservation)
        if held is not None:
            self._release(entry, reservation, held[0], held[1])
        if billed:
            _charge(entry.ledger, tokens, cost_usd)

    async def ledger(self, key: str) -> BudgetLedger:
        return _copy(self._entry(key, self._clock()).ledger)

    async def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def __repr__(self) -> str:
        return f"InMemoryBudgetBackend(keys={len(self._entries)})"


def _charge(ledger: BudgetLedger, tokens: int, cost_usd: float | None) -> None:
    ledger.calls += 1
    ledger.tokens += tokens
    if cost_usd is None:
        ledger.unpriced_calls += 1
    else:
        ledger.cost_usd += cost_usd
        ledger.largest_call_usd = max(ledger.largest_call_usd, cost_usd)


def _copy(ledger: BudgetLedger) -> BudgetLedger:
    return BudgetLedger(
        tokens=ledger.tokens,
        cost_usd=ledger.cost_usd,
        calls=ledger.calls,
        unpriced_calls=ledger.unpriced_calls,
        reserved_tokens=ledger.reserved_tokens,
        reserved_usd=ledger.reserved_usd,
        in_flight=ledger.in_flight,
        largest_call_usd=ledger.largest_call_usd,
    )


_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

_FIELDS = """
local function field(name)
  return tonumber(redis.call('HGET', KEYS[1], name) or '0') or 0
end
local function release(id)
  local held = redis.call('HGET', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
  if not held then return end
  local tokens, usd = string.match(held, '^(%S+) (%S+)$')
  redis.call('HDEL', KEYS[3], id)
  local in_flight = redis.call('HINCRBY', KEYS[1], 'in_flight', -1)
  if in_flight <= 0 then
    redis.call('HSET', KEYS[1], 'in_flight', 0, 'reserved_tokens', 0, 'reserved_usd', 0)
  else
    redis.call('HINCRBY', KEYS[1], 'reserved_tokens', -tonumber(tokens))
    redis.call('HINCRBYFLOAT', KEYS[1], 'reserved_usd', -tonumber(usd))
  end
end
local function expire(ttl)
  if ttl > 0 then
    for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl, 'NX') end
  end
end
"""

# KEYS: ledger hash, reservation expiries (zset), reservation amounts (hash).
# ARGV: now, tokens, usd (negative: the largest call so far), max_tokens and max_usd
# (negative: none), hold seconds, ttl seconds (0: none).
ADMIT_SCRIPT = (
    _NOW
    + _FIELDS
    + """
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do release(id) end
local tokens, cost = field('tokens'), field('cost_usd')
local max_tokens, max_usd = tonumber(ARGV[4]), tonumber(ARGV[5])
local ledger = {'tokens', 'cost_usd', 'calls', 'unpriced_calls', 'reserved_tokens',
                'reserved_usd', 'in_flight', 'largest_call_usd'}
if (max_tokens >= 0 and tokens >= max_tokens) or (max_usd >= 0 and cost >= max_usd) then
  local reply = {'spent'}
  for _, name in ipairs(ledger) do table.insert(reply, tostring(field(name))) end
  return reply
end
local want_tokens, want_usd = tonumber(ARGV[2]), tonumber(ARGV[3])
if want_usd < 0 then want_usd = field('largest_call_usd') end
if field('in_flight') > 0 then
  if (max_tokens >= 0 and tokens + field('reserved_tokens') + want_tokens > max_tokens)
    or (max_usd >= 0 and cost + field('reserved_usd') + want_usd > max_usd + 1e-12) then
    return {'wait'}
  end
end
local id = tostring(redis.call('HINCRBY', KEYS[1], 'next_id', 1))
redis.call('HSET', KEYS[3], id, ARGV[2] .. ' ' .. string.format('%.17g', want_usd))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), id)
redis.call('HINCRBY', KEYS[1], 'in_flight', 1)
redis.call('HINCRBY', KEYS[1], 'reserved_tokens', want_tokens)
redis.call('HINCRBYFLOAT', KEYS[1], 'reserved_usd', want_usd)
expire(tonumber(ARGV[7]))
return {'admitted', id}
"""
)

# KEYS as ADMIT_SCRIPT. ARGV: now, reservation id, tokens, cost (negative: unpriced),
# billed (1 or 0).
SETTLE_SCRIPT = (
    _NOW
    + _FIELDS
    + """
release(ARGV[2])
if ARGV[5] == '1' then
  redis.call('HINCRBY', KEYS[1], 'calls', 1)
  redis.call('HINCRBY', KEYS[1], 'tokens', tonumber(ARGV[3]))
  local cost = tonumber(ARGV[4])
  if cost < 0 then
    redis.call('HINCRBY', KEYS[1], 'unpriced_calls', 1)
  else
    redis.call('HINCRBYFLOAT', KEYS[1], 'cost_usd', ARGV[4])
    if cost > field('largest_call_usd') then
      redis.call('HSET', KEYS[1], 'largest_call_usd', ARGV[4])
    end
  end
end
return 1
"""
)
