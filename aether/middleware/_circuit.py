"""The circuit breaker's state machine, for one key. No awaits: each step is atomic.

Every transition happens in plain synchronous code, so on one event loop (asyncio or
trio) no two callers can interleave between reading the state and changing it; no lock
is needed. A caller is admitted with a `Ticket`; its outcome is reported with that
ticket. Tickets from before the circuit last opened are stale and ignored, so a slow
call that started while the circuit was closed cannot close (or reopen) it later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aether.errors import CircuitOpenError

__all__ = ["Circuit", "CircuitState", "Ticket", "Transition"]


class CircuitState(StrEnum):
    """Where a circuit stands."""

    CLOSED = "closed"
    """Calls go through; consecutive provider failures are counted."""
    OPEN = "open"
    """Calls fail fast with `CircuitOpenError` until the cooldown has passed."""
    HALF_OPEN = "half_open"
    """The cooldown has passed: one probe call goes through, the others fail fast."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted call: the generation it was admitted in, and whether it probes.

    ``shared`` marks a ticket of a circuit kept in Redis (not of this process's own).
    """

    generation: int
    probe: bool
    shared: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of state, for callbacks and logs."""

    key: str
    old: CircuitState
    new: CircuitState
    failures: int
    retry_at: float | None


@dataclass(slots=True)
class Circuit:
    """One circuit: closed → open after ``threshold`` failures → half-open → closed."""

    key: str
    threshold: int
    cooldown: float
    clock: Callable[[], float]
    stored_state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    retry_at: float = 0.0
    generation: int = 0
    probing: bool = False
    closed_ticket: Ticket = Ticket(0, probe=False)
    """The ticket every caller of this generation gets while closed (no allocation)."""

    @property
    def state(self) -> CircuitState:
        """The state a caller arriving now would meet (open turns half-open on time)."""
        if self.stored_state is CircuitState.OPEN and self.clock() >= self.retry_at:
            return CircuitState.HALF_OPEN
        return self.stored_state

    def _move(self, new: CircuitState) -> Transition:
        old = self.stored_state
        self.stored_state = new
        retry_at = self.retry_at if new is CircuitState.OPEN else None
        return Transition(self.key, old, new, self.failures, retry_at)

    def _rejection(self, now: float) -> CircuitOpenError:
        if self.stored_state is CircuitState.OPEN:
            wait = self.retry_at - now
            detail = f"a probe call will be let through in {wait:.1f} s"
        else:
            wait = 0.0
            detail = "a probe call is testing the provider right now"
        return CircuitOpenError(
            f"the circuit for {self.key} is open after {self.failures} consecutive "
            f"provider failures, so the provider was not called; {detail}. Catch "
            f"CircuitOpenError to fall back, or wait error.retry_after seconds.",
            key=self.key,
            retry_at=now + wait,
            retry_after=wait,
        )

    def admit(self) -> tuple[Ticket, Transition | None]:
        """Let a call through, or raise `CircuitOpenError`.

        Raises:
            CircuitOpenError: While open, and while half-open with a probe in flight.
        """
        state = self.stored_state
        if state is CircuitState.CLOSED:
            return self.closed_ticket, None
        now = self.clock()
        if state is CircuitState.OPEN:
            if now < self.retry_at:
                raise self._rejection(now)
            self.probing = True
            return Ticket(self.generation, probe=True), self._move(CircuitState.HALF_OPEN)
        if self.probing:
            raise self._rejection(now)
        self.probing = True
        return Ticket(self.generation, probe=True), None

    def succeeded(self, ticket: Ticket) -> Transition | None:
        """The provider answered: a probe closes the circuit; failures start over."""
        if ticket.generation != self.generation:
            return None
        self.failures = 0
        if ticket.probe and self.stored_state is CircuitState.HALF_OPEN:
            self.probing = False
            return self._move(CircuitState.CLOSED)
        return None

    def failed(self, ticket: Ticket) -> Transition | None:
        """The provider failed: count it, and open the circuit at the threshold."""
        if ticket.generation != self.generation:
            return None
        self.failures += 1
        reopen = ticket.probe and self.stored_state is CircuitState.HALF_OPEN
        if reopen or (self.stored_state is CircuitState.CLOSED and self.failures >= self.threshold):
            self.probing = False
            self.generation += 1
            self.closed_ticket = Ticket(self.generation, probe=False)
            self.retry_at = self.clock() + self.cooldown
            return self._move(CircuitState.OPEN)
        return None

    def released(self, ticket: Ticket) -> None:
        """The call ended with no verdict on the provider (a caller error, a cancel)."""
        if ticket.probe and ticket.generation == self.generation:
            self.probing = False
