"""GCRA, the generic cell rate algorithm: the rate limiter's arithmetic, in memory and in Lua.

One number per limit, the theoretical arrival time (TAT): when the bucket would be full
again if nothing more were taken. With ``interval`` seconds per unit and ``capacity``
units, a call taking ``amount`` units may go at ``TAT - (capacity - amount) * interval``
(at once if that is past); going at time ``g`` moves the TAT to ``max(TAT, g) + amount *
interval``. It is a token bucket kept as one timestamp, so a shared limiter needs one key
per limit and one atomic script, whatever the rate.

A call is never refused: `reserve` first gives back what earlier calls of the process
did not use (``given_back``, carried along so that giving back costs no round trip of
its own), then books the earliest time at which every limit lets it
go, for all of them at once, and returns how long to wait. Callers are served in the
order they reach the limiter (the script, or the event loop, is the queue), the bound
holds whoever waits and whoever does not, and one call costs one round trip, with no
polling. `adjust` moves a TAT by a number of units afterwards: negative to give back
what a call did not use (never past a full bucket), positive to take what it used beyond
its estimate (the bucket then goes into debt and later calls wait for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ADJUST_SCRIPT", "RESERVE_SCRIPT", "LimitUse", "adjust", "reserve"]

KEY_SLACK_SECONDS = 60.0
"""Extra life of a Redis key past the time its bucket is full again."""


@dataclass(frozen=True, slots=True)
class LimitUse:
    """One limit's terms for one call.

    Attributes:
        limit: ``requests`` or ``tokens`` (the last part of its key).
        interval: Seconds it takes to earn one unit back.
        capacity: Units the bucket holds (the burst).
        amount: Units the call takes (signed in `adjust`).
        given_back: Units earlier calls did not use, returned before booking.
    """

    limit: str
    interval: float
    capacity: float
    amount: float
    given_back: float = 0.0


def reserve(
    tats: list[float | None], uses: Sequence[LimitUse], now: float
) -> tuple[float, list[float]]:
    """When a call may go (``go >= now``) and the TATs once it is booked."""
    go = now
    current = []
    for tat, use in zip(tats, uses, strict=True):
        tat = now if tat is None or tat < now else tat
        tat = max(tat - use.given_back * use.interval, now)
        current.append(tat)
        allowed = tat - (use.capacity - min(use.amount, use.capacity)) * use.interval
        go = max(go, allowed)
    booked = [
        max(tat, go) + use.amount * use.interval for tat, use in zip(current, uses, strict=True)
    ]
    return go, booked


def adjust(tat: float | None, use: LimitUse, now: float) -> float:
    """The TAT after ``use.amount`` more units (fewer, when negative)."""
    base = now if tat is None or tat < now else tat
    return max(base + use.amount * use.interval, now)


# KEYS: one per limit. ARGV[1]: now in seconds (negative: the server's clock), then per
# limit: interval, capacity, amount, given back. Returns the wait in seconds, as text
# (Lua numbers come back as integers otherwise).
RESERVE_SCRIPT = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local go = now
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 * i - 2])
  local capacity = tonumber(ARGV[4 * i - 1])
  local amount = tonumber(ARGV[4 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tat = math.max(tat - tonumber(ARGV[4 * i + 1]) * interval, now)
  tats[i] = tat
  local allowed = tat - (capacity - math.min(amount, capacity)) * interval
  if allowed > go then go = allowed end
end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 * i - 2])
  local amount = tonumber(ARGV[4 * i])
  local tat = math.max(tats[i], go) + amount * interval
  local ttl = math.ceil((tat - now + 60) * 1000)
  redis.call('SET', KEYS[i], string.format('%.17g', tat), 'PX', ttl)
end
return string.format('%.17g', go - now)
"""

# KEYS: one per limit. ARGV as for RESERVE_SCRIPT, amounts signed.
ADJUST_SCRIPT = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 * i - 2])
  local amount = tonumber(ARGV[4 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tat = math.max(tat + amount * interval, now)
  local ttl = math.ceil((tat - now + 60) * 1000)
  redis.call('SET', KEYS[i], string.format('%.17g', tat), 'PX', ttl)
end
return 1
"""
