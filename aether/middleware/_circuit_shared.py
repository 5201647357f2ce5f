"""`RedisCircuitBackend`: circuit breaker state shared by every process that uses one Redis.

Each circuit is one Redis hash, ``{namespace:circuit_breaker:<key>}``: its state, its
consecutive failures, its generation (bumped each time it opens), when it may be probed,
and a probe lease. Every change is one Lua script, so the fleet agrees on one count of
failures, one opening, and one probe: when the cooldown is over, the first process to
ask gets the lease and every other caller, in any process, fails fast until the probe
settles (or its lease runs out, if its process died).

Reading the record on every call would cost a round trip per call, so each process
keeps a view of each circuit. A closed view is trusted for ``refresh`` seconds, and an
open view until its cooldown ends; failures and probes always go to Redis. So when one
process opens a circuit, every other process sees it open at its first call after
``refresh`` seconds (1 s by default) from its last look: that is the bound. With
``refresh=0`` every call reads the record (one round trip, and the bound is zero).

Redis unavailable: fails open by default: each process falls back to a circuit of its
own (the in-memory breaker, which still protects it alone) until Redis answers again;
``fail_open=False`` refuses calls with `SharedStateError` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from aether.errors import CircuitOpenError, SharedStateError
from aether.middleware._circuit import Circuit, CircuitState, Ticket, Transition
from aether.middleware._shared_redis import RedisBackend

__all__ = ["RedisCircuitBackend", "SharedCircuit"]

logger = logging.getLogger("aether.circuit_breaker")

_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function get(name, default)
  return redis.call('HGET', KEYS[1], name) or default
end
local function view(tag)
  local state = get('state', 'closed')
  local wait = 0
  if state == 'open' then
    wait = tonumber(get('open_until', '0')) - now
    if wait <= 0 then
      local lease = tonumber(get('probe_until', '0')) - now
      if lease > 0 then state = 'probing' else state = 'half_open' end
      wait = math.max(lease, 0)
    end
  end
  return {tag or state, get('failures', '0'), get('generation', '0'), string.format('%.17g', wait)}
end
"""

# ARGV: now, probe lease seconds. Closed: {'closed', ...}; open: {'open', ..., wait};
# a probe in flight: {'probing', ..., lease left}; the lease for us: {'probe', ...}.
_ADMIT = (
    _NOW
    + """
local current = view()
if current[1] == 'half_open' then
  redis.call('HSET', KEYS[1], 'probe_until', string.format('%.17g', now + tonumber(ARGV[2])))
  return view('probe')
end
return current
"""
)

# ARGV: now, generation, probe (1/0), threshold, cooldown, ttl seconds.
_FAILED = (
    _NOW
    + """
if get('generation', '0') ~= ARGV[2] then return view() end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = get('state', 'closed')
if (ARGV[3] == '1' and state == 'open')
   or (state == 'closed' and failures >= tonumber(ARGV[4])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'probe_until', '0',
             'open_until', string.format('%.17g', now + tonumber(ARGV[5])))
  redis.call('HINCRBY', KEYS[1], 'generation', 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return view()
"""
)

# ARGV: now, generation, probe (1/0).
_SUCCEEDED = (
    _NOW
    + """
if get('generation', '0') ~= ARGV[2] then return view() end
redis.call('HSET', KEYS[1], 'failures', '0')
if ARGV[3] == '1' and get('state', 'closed') == 'open' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'probe_until', '0')
end
return view()
"""
)

# ARGV: now, generation.
_RELEASED = (
    _NOW
    + """
if get('generation', '0') == ARGV[2] then redis.call('HSET', KEYS[1], 'probe_until', '0') end
return view()
"""
)

_STATES = {
    "closed": CircuitState.CLOSED,
    "open": CircuitState.OPEN,
    "half_open": CircuitState.HALF_OPEN,
    "probing": CircuitState.HALF_OPEN,
    "probe": CircuitState.HALF_OPEN,
}

Notify = Callable[[Transition], Awaitable[None]]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(slots=True)
class _View:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    generation: int = 0
    until: float = 0.0
    """Local clock: when an open view turns half-open, or a probe lease ends."""
    fetched_at: float | None = None


class SharedCircuit:
    """One circuit as this process sees the shared record (see the module docstring)."""

    __slots__ = ("_backend", "_local", "_view", "cooldown", "key", "threshold")

    def __init__(
        self, backend: RedisCircuitBackend, key: str, threshold: int, cooldown: float
    ) -> None:
        self._backend = backend
        self.key = key
        self.threshold = threshold
        self.cooldown = cooldown
        self._view = _View()
        self._local = Circuit(key, threshold, cooldown, backend.clock)

    @property
    def state(self) -> CircuitState:
        """The state as last seen (an open circuit turns half-open on time)."""
        view = self._view
        if view.state is CircuitState.OPEN and self._backend.clock() >= view.until:
            return CircuitState.HALF_OPEN
        return view.state

    async def _run(self, script: str, *arguments: object) -> list[Any]:
        backend = self._backend
        reply = await backend.shared.run(
            script, [backend.shared.key(self.key)], [backend.now_argument(), *arguments]
        )
        return list(reply)

    async def _update(self, reply: list[Any], notify: Notify) -> str:
        tag = _text(reply[0])
        now = self._backend.clock()
        view = self._view
        old = self.state
        view.state = _STATES[tag] if tag not in ("half_open",) else CircuitState.OPEN
        view.failures = int(_text(reply[1]))
        view.generation = int(_text(reply[2]))
        wait = float(_text(reply[3]))
        # Someone else's probe: look again after `refresh`, not after its whole lease.
        view.until = now + (min(wait, self._backend.refresh) if tag == "probing" else wait)
        view.fetched_at = now
        new = self.state
        if new is not old:
            retry_at = view.until if new is CircuitState.OPEN else None
            await notify(Transition(self.key, old, new, view.failures, retry_at))
        return tag

    def _rejection(self) -> CircuitOpenError:
        now = self._backend.clock()
        wait = max(0.0, self._view.until - now)
        detail = (
            f"a probe call will be let through in {wait:.1f} s"
            if self._view.state is CircuitState.OPEN
            else "a probe call is testing the provider right now"
        )
        return CircuitOpenError(
            f"the circuit for {self.key} is open (shared by every process using this "
            f"Redis) after {self._view.failures} consecutive provider failures, so the "
            f"provider was not called; {detail}. Catch CircuitOpenError to fall back, or "
            f"wait error.retry_after seconds.",
            key=self.key,
            retry_at=now + wait,
            retry_after=wait,
        )

    async def admit(self, notify: Notify) -> Ticket:
        """A ticket for a call, or `CircuitOpenError`; one round trip at most.

        Raises:
            CircuitOpenError: The circuit is open (or probing) fleet-wide.
            SharedStateError: Redis is unreachable and the backend fails closed.
        """
        backend = self._backend
        view = self._view
        now = backend.clock()
        if view.fetched_at is not None and backend.shared.available:
            if view.state is CircuitState.CLOSED and now - view.fetched_at < backend.refresh:
                return Ticket(view.generation, probe=False, shared=True)
            if view.state is not CircuitState.CLOSED and now < view.until:
                raise self._rejection()
        try:
            reply = await self._run(_ADMIT, repr(backend.probe_lease))
        except SharedStateError:
            if not backend.fail_open:
                raise
            ticket, transition = self._local.admit()
            if transition is not None:
                await notify(transition)
            return ticket
        tag = await self._update(reply, notify)
        if tag == "closed":
            return Ticket(view.generation, probe=False, shared=True)
        if tag == "probe":
            return Ticket(view.generation, probe=True, shared=True)
        raise self._rejection()

    async def succeeded(self, ticket: Ticket, notify: Notify) -> None:
        """The provider answered: a probe closes the circuit, failures start over."""
        if not ticket.shared:
            transition = self._local.succeeded(ticket)
            if transition is not None:
                await notify(transition)
            return
        if not ticket.probe and self._view.failures == 0:
            return  # nothing to reset: the happy path costs no round trip
        await self._report(_SUCCEEDED, notify, ticket.generation, int(ticket.probe))

    async def failed(self, ticket: Ticket, notify: Notify) -> None:
        """The provider failed: count it fleet-wide; the circuit opens at the threshold."""
        if not ticket.shared:
            transition = self._local.failed(ticket)
            if transition is not None:
                await notify(transition)
            return
        await self._report(
            _FAILED,
            notify,
            ticket.generation,
            int(ticket.probe),
            self.threshold,
            repr(self.cooldown),
            max(60, round(self.cooldown * 2)),
        )

    async def released(self, ticket: Ticket) -> None:
        """The call ended with no verdict: free the probe lease if it held it."""
        if not ticket.shared:
            self._local.released(ticket)
        elif ticket.probe:
            await self._report(_RELEASED, None, ticket.generation)

    async def _report(self, script: str, notify: Notify | None, *arguments: object) -> None:
        # Shielded and bounded: outcomes are reported from `except` and `finally` too.
        with anyio.CancelScope(shield=True), anyio.move_on_after(self._backend.shared.timeout):
            try:
                reply = await self._run(script, *arguments)
            except SharedStateError:
                logger.warning("could not report a call's outcome to circuit %s", self.key)
                return
            await self._update(reply, notify if notify is not None else _ignore)


async def _ignore(transition: Transition) -> None:
    return None


class RedisCircuitBackend(RedisBackend):
    """Keeps circuit breaker state in Redis: ``CircuitBreakerMiddleware(backend=...)``.

    Args:
        redis: An open ``coredis.Redis`` or ``coredis.RedisCluster`` client (yours to
            close), or a URL (``redis://...``, ``redis+cluster://...``): then open the
            backend (``async with backend:``) around its use.
        namespace: The first part of every key.
        refresh: Seconds a process trusts its view of a closed circuit; the bound on how
            late it sees another process open it. 0 reads Redis on every call.
        fail_open: While Redis is unreachable, break circuits per process (``True``,
            the default) or refuse calls with `SharedStateError` (``False``).
        probe_lease: Seconds a half-open probe holds the circuit before another process
            may probe (if the first died).
        timeout: Seconds a round trip may take before Redis counts as unreachable.
        retry_interval: Seconds to go without Redis after it failed, before trying again.
        clock: Seconds on a clock every process shares, instead of Redis's ``TIME`` and
            the local monotonic clock (tests pass a clock they control).
    """

    feature = "circuit_breaker"

    __slots__ = ("clock", "probe_lease", "refresh")

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str = "aether",
        refresh: float = 1.0,
        fail_open: bool = True,
        probe_lease: float = 120.0,
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
        self.clock: Callable[[], float] = clock if clock is not None else anyio.current_time
        self.refresh = refresh
        self.probe_lease = probe_lease

    def circuit(self, key: str, threshold: int, cooldown: float) -> SharedCircuit:
        """This process's view of the circuit ``key``."""
        return SharedCircuit(self, key, threshold, cooldown)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, refresh={self.refresh})"
