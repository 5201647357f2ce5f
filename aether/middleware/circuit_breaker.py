"""The circuit breaker: stop calling a provider that keeps failing, then probe it.

One circuit per key, by default the provider and the model (``openai:gpt-4o-mini``), so a
failing model does not block the others. Closed, it counts consecutive provider failures;
at ``failure_threshold`` it opens and every call fails fast with `CircuitOpenError`
(carrying when it will try again) without calling the provider. After ``cooldown``
seconds it is half-open: exactly one probe call goes through while concurrent callers
still fail fast; a successful probe closes it, a failed one opens it again.

What counts as a failure: a `ProviderError` other than a caller's mistake. A bad request
(400, 404, 422, content filter) and an authentication error (401, 403) do not count:
retrying will not fix them and an open circuit would hide the real error behind
`CircuitOpenError`. Cancellation does not count either, nor any exception that is not an
`AetherError` (a bug is not an outage). Pass ``is_failure=`` to decide otherwise.

Placed outside retry (as in the default stack), a call whose retries are all exhausted
counts once. A stream counts as a success when its first chunk arrives, and a failure
when it fails before or after that.

Circuits live in this process by default. ``backend=RedisCircuitBackend(redis)`` shares
them with every process using that Redis, through the same breaker (not a second one):
failures are counted fleet-wide, an opening is seen by every process within the
backend's ``refresh`` (1 s by default), and half-open lets one probe through fleet-wide
(see ``_circuit_shared``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
from pydantic import BaseModel, ConfigDict

from aether.config import number_problem
from aether.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ProviderError,
)
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.middleware._circuit import Circuit, CircuitState, Ticket, Transition
from aether.middleware._circuit_shared import RedisCircuitBackend, SharedCircuit
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "CircuitBreakerMiddleware",
    "CircuitBreakerPolicy",
    "CircuitState",
    "CircuitStateChange",
    "RedisCircuitBackend",
    "is_provider_failure",
]

logger = logging.getLogger("aether.circuit_breaker")


class CircuitStateChange(BaseModel):
    """A circuit changed state; what ``on_state_change`` receives.

    Attributes:
        key: The circuit's key (``provider:model``).
        old: The state before.
        new: The state now.
        failures: Consecutive provider failures counted when it changed.
        retry_at: When the circuit opened: the ``anyio.current_time()`` of the next probe.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    old: CircuitState
    new: CircuitState
    failures: int
    retry_at: float | None = None


StateChangeCallback = Callable[[CircuitStateChange], Awaitable[None] | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitBreakerPolicy:
    """When circuits open and for how long: ``Aether(circuit_breaker=CircuitBreakerPolicy())``.

    Attributes:
        failure_threshold: Consecutive provider failures that open a circuit.
        cooldown: Seconds a circuit stays open before one probe call is let through.
        on_state_change: Called (sync or async) with a `CircuitStateChange` whenever a
            circuit changes state; its exceptions are logged, never raised.

    Raises:
        ConfigurationError: Listing every invalid field.
    """

    failure_threshold: int = 5
    cooldown: float = 30.0
    on_state_change: StateChangeCallback | None = None

    def __post_init__(self) -> None:
        checks = [
            number_problem("failure_threshold", self.failure_threshold, minimum=1, whole=True),
            number_problem("cooldown", self.cooldown, minimum=0, unit=" seconds"),
        ]
        problems = [problem for problem in checks if problem]
        if problems:
            raise ConfigurationError(
                "invalid CircuitBreakerPolicy: " + "; ".join(problems), problems=problems
            )


def is_provider_failure(error: BaseException) -> bool:
    """The default verdict: a `ProviderError` that is not the caller's own mistake."""
    return isinstance(error, ProviderError) and not isinstance(
        error, BadRequestError | AuthenticationError
    )


class CircuitBreakerMiddleware:
    """Fails fast while a provider is failing; one circuit per (provider, model).

    Args:
        policy: The threshold, the cooldown and the state-change callback.
        provider: The provider's name, for the default key.
        key: Computes a circuit's key from a request, instead of ``provider:model``.
        is_failure: Decides which errors count against the circuit.
        clock: The time source; ``anyio.current_time`` by default (tests pass their own).
        backend: `RedisCircuitBackend` to share circuits between processes; ``None``
            keeps them in this process.
    """

    name = "CircuitBreaker"

    __slots__ = (
        "_by_model",
        "_circuits",
        "_clock",
        "_is_failure",
        "_key",
        "backend",
        "policy",
        "provider",
    )

    def __init__(
        self,
        policy: CircuitBreakerPolicy | None = None,
        *,
        provider: str | None = None,
        key: Callable[[LLMRequest], str] | None = None,
        is_failure: Callable[[BaseException], bool] = is_provider_failure,
        clock: Callable[[], float] = anyio.current_time,
        backend: RedisCircuitBackend | None = None,
    ) -> None:
        self.policy = policy or CircuitBreakerPolicy()
        self.provider = provider
        self._key = key
        self._is_failure = is_failure
        self._clock = clock
        self.backend = backend
        self._circuits: dict[str, Circuit | SharedCircuit] = {}
        self._by_model: dict[str | None, Circuit | SharedCircuit] = {}

    def key_for(self, request: LLMRequest) -> str:
        """The key of the circuit that ``request`` goes through."""
        if self._key is not None:
            return self._key(request)
        return f"{self.provider or 'provider'}:{request.model or 'default'}"

    def state(self, key: str) -> CircuitState:
        """The state of the circuit ``key`` (closed if it has never been used)."""
        circuit = self._circuits.get(key)
        return circuit.state if circuit is not None else CircuitState.CLOSED

    def states(self) -> dict[str, CircuitState]:
        """Every circuit used so far, by key."""
        return {key: circuit.state for key, circuit in self._circuits.items()}

    def reset(self) -> None:
        """Close every circuit and forget its failures."""
        self._circuits.clear()
        self._by_model.clear()

    def _circuit(self, request: LLMRequest) -> Circuit | SharedCircuit:
        default_key = self._key is None
        if default_key:
            circuit = self._by_model.get(request.model)
            if circuit is not None:
                return circuit
        key = self.key_for(request)
        circuit = self._circuits.get(key)
        if circuit is None:
            policy = self.policy
            if self.backend is not None:
                circuit = self.backend.circuit(key, policy.failure_threshold, policy.cooldown)
            else:
                circuit = Circuit(key, policy.failure_threshold, policy.cooldown, self._clock)
            self._circuits[key] = circuit
        if default_key:
            self._by_model[request.model] = circuit
        return circuit

    async def _notify(self, transition: Transition) -> None:
        log = logger.warning if transition.new is CircuitState.OPEN else logger.info
        log(
            "circuit %s: %s → %s after %d consecutive failures",
            transition.key,
            transition.old.value,
            transition.new.value,
            transition.failures,
        )
        callback = self.policy.on_state_change
        if callback is None:
            return
        change = CircuitStateChange(
            key=transition.key,
            old=transition.old,
            new=transition.new,
            failures=transition.failures,
            retry_at=transition.retry_at,
        )
        try:
            result = callback(change)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("circuit breaker on_state_change callback failed; ignored")

    # One path for both kinds of circuit: a local `Circuit` steps synchronously (no
    # await on the happy path); a `SharedCircuit` asks Redis when its view is stale.

    async def _succeeded(self, circuit: Circuit | SharedCircuit, ticket: Ticket) -> None:
        if isinstance(circuit, Circuit):
            transition = circuit.succeeded(ticket)
            if transition is not None:
                await self._notify(transition)
        else:
            await circuit.succeeded(ticket, self._notify)

    async def _settle(
        self, circuit: Circuit | SharedCircuit, ticket: Ticket, error: Exception
    ) -> None:
        if not self._is_failure(error):
            await self._release(circuit, ticket)
        elif isinstance(circuit, Circuit):
            transition = circuit.failed(ticket)
            if transition is not None:
                await self._notify(transition)
        else:
            await circuit.failed(ticket, self._notify)

    @staticmethod
    async def _release(circuit: Circuit | SharedCircuit, ticket: Ticket) -> None:
        if isinstance(circuit, Circuit):
            circuit.released(ticket)
        else:
            await circuit.released(ticket)

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request`` unless its circuit is open.

        Raises:
            CircuitOpenError: The circuit is open; the provider was not called.
            SharedStateError: A Redis backend that fails closed cannot reach Redis.
        """
        circuit = self._circuit(request)
        if isinstance(circuit, Circuit):  # inline: the local happy path awaits nothing
            ticket, transition = circuit.admit()
        else:
            ticket, transition = await circuit.admit(self._notify), None
        try:
            # Inside the try: a cancellation during an async state-change callback must
            # still release a half-open probe ticket, or the circuit stays probing forever.
            if transition is not None:
                await self._notify(transition)
            response = await call_next(request)
        except Exception as error:
            await self._settle(circuit, ticket, error)
            raise
        except BaseException:
            await self._release(circuit, ticket)
            raise
        if isinstance(circuit, Circuit):
            transition = circuit.succeeded(ticket)
            if transition is not None:
                await self._notify(transition)
        else:
            await circuit.succeeded(ticket, self._notify)
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        """Stream ``request`` unless its circuit is open (see `call`)."""
        circuit = self._circuit(request)
        if isinstance(circuit, Circuit):  # inline: the local happy path awaits nothing
            ticket, transition = circuit.admit()
        else:
            ticket, transition = await circuit.admit(self._notify), None
        settled = False
        inner = call_next(request)
        try:
            if transition is not None:
                await self._notify(transition)
            async for chunk in inner:
                if not settled:
                    settled = True
                    await self._succeeded(circuit, ticket)
                yield chunk
            if not settled:
                settled = True
                await self._succeeded(circuit, ticket)
        except Exception as error:
            await self._settle(circuit, ticket, error)
            raise
        except BaseException:
            if not settled:
                await self._release(circuit, ticket)
            raise
        finally:
            await aclose_stream(inner)

    def __repr__(self) -> str:
        return (
            f"CircuitBreakerMiddleware(failure_threshold={self.policy.failure_threshold}, "
            f"cooldown={self.policy.cooldown}, circuits={len(self._circuits)})"
        )
