"""The default stack: which built-in middlewares ``Aether()`` puts around the provider.

Outermost first::

    [your middleware=...] → [Telemetry] → StructuredOutput → ToolLoop
        → [Telemetry.model_calls] → [Cache] → CostTracking → CircuitBreaker → Retry
        → [Telemetry.attempts] → Events → provider

Structured output is outermost of the built-ins: it validates the final answer of the
whole tool loop, and a re-ask re-enters the loop and everything below it, so each
attempt is billed, counted, retried and evented like any call (requests without
``output_type`` pass straight through; see `aether.middleware.structured_output`).
The tool loop is next: each iteration re-enters the chain below it,
so cost counts, retry retries and events fire once per model call. Cost tracking is next
so it counts only what billed (not retried attempts) and its budget check refuses a call
before anything else runs. The breaker sits outside retry, so a call whose retries are all
exhausted counts as one failure, not one per attempt. Events sit inside retry, so each
attempt is its own request.start/complete/error. The response cache (opt-in) sits inside
the tool loop, so each model call is cached and tools still run, and outside cost
tracking, so a hit is not a billed request. Telemetry (opt-in) sits at three depths, one
per thing it records: the logical request, each model call, each retry attempt (see
`aether.middleware.telemetry`).

The fleet features sit where they act once per model call: a per-key budget with cost
tracking (just above it, so it sees priced answers and refuses before anything is sent),
fallback or hedging below cost tracking (one model call whichever provider answers, each
provider with its own breaker, retry and limiter), and the rate limiter below retry (every
attempt that reaches a provider waits its turn; a call the breaker refuses takes no
slot)::

    ToolLoop → [Cache] → [Budget] → CostTracking → [Fallback | Hedging]
             → CircuitBreaker → Retry → [RateLimit] → Events → provider

``shared=redis`` keeps the rate limits, budgets and breaker state in Redis, so a fleet
of processes holds one set of limits (see docs/deployment.md).

`default_stack` is the public builder: ``Aether(stack=default_stack(...))`` gives the
default stack with your choices, and a new built-in capability becomes one more keyword
here rather than one more keyword on ``Aether(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aether.errors import ConfigurationError
from aether.events import EventBus
from aether.middleware.circuit_breaker import (
    CircuitBreakerMiddleware,
    CircuitBreakerPolicy,
    RedisCircuitBackend,
)
from aether.middleware.cost import CostTrackingMiddleware
from aether.middleware.events import EventsMiddleware
from aether.middleware.retry import RetryMiddleware, RetryPolicy
from aether.middleware.structured_output import StructuredOutputMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware
from aether.pipeline import Pipeline, middleware_name
from aether.pricing import ModelPricing, Pricer
from aether.usage import Usage

# The opt-in layers load when asked for, so ``import aether`` and a default client do not
# pay for them (see "Footprint" in benchmarks/README.md).
if TYPE_CHECKING:
    from aether.middleware.budget import BudgetMiddleware, BudgetPolicy
    from aether.middleware.cache import CacheBackend, CacheMiddleware
    from aether.middleware.hedging import LatencyPercentile
    from aether.middleware.rate_limit import RateLimitMiddleware, RateLimitPolicy
    from aether.middleware.telemetry import TelemetryMiddleware

__all__ = ["build_default_stack", "default_stack"]


def _cache_layer(
    cache: CacheMiddleware | CacheBackend | bool | None, provider: str | None
) -> CacheMiddleware | None:
    # Identity checks: an empty in-memory backend is falsy (it has a length).
    if cache is None or cache is False:
        return None
    from aether.middleware.cache import CacheMiddleware

    if isinstance(cache, CacheMiddleware):
        return cache
    if cache is True:
        return CacheMiddleware(provider=provider)
    return CacheMiddleware(cache, provider=provider)


def _telemetry_layer(
    telemetry: TelemetryMiddleware | bool, provider: str | None
) -> TelemetryMiddleware | None:
    if telemetry is False:
        return None
    from aether.middleware.telemetry import TelemetryMiddleware

    if isinstance(telemetry, TelemetryMiddleware):
        return telemetry
    if telemetry is True:
        return TelemetryMiddleware(provider=provider)
    raise ConfigurationError(
        f"telemetry= takes True, False or a TelemetryMiddleware, not {telemetry!r}"
    )


def default_stack(
    *,
    provider: str | None = None,
    events: EventBus | None = None,
    usage: Usage | None = None,
    retry: RetryPolicy | bool = True,
    circuit_breaker: CircuitBreakerPolicy | bool = True,
    cost_tracking: bool = True,
    budget_usd: float | None = None,
    prices: Mapping[str, ModelPricing] | None = None,
    cache: CacheMiddleware | CacheBackend | bool | None = None,
    rate_limit: RateLimitPolicy | RateLimitMiddleware | None = None,
    budget: BudgetPolicy | BudgetMiddleware | None = None,
    fallback: Sequence[Any] = (),
    hedge: Any = None,
    hedge_delay: float | LatencyPercentile = 1.0,
    shared: Any = None,
    shared_namespace: str = "aether",
    telemetry: TelemetryMiddleware | bool = False,
    structured_output: StructuredOutputMiddleware | bool = True,
) -> list[object]:
    """The built-in middlewares of ``Aether()``, outermost first, for ``stack=[...]``.

    ::

        client = Aether(provider, stack=[audit, *default_stack(provider="openai", cache=True)])

    ``Aether(...)`` reads what it reports from the stack it is given: ``client.usage`` is
    the cost layer's, ``client.events`` the bus of the tool loop and events layers,
    ``client.circuit_breaker`` and ``client.cache`` the layers themselves.

    Args:
        provider: The provider's name, for circuit keys, price lookups and cache keys
            (``Aether()`` passes its own; without it, models are priced by name alone).
        events: The bus the tool loop and the events layer emit on; a new one if omitted.
        usage: Where cost tracking counts; a new `Usage` if omitted.
        retry: A `RetryPolicy`, ``True`` for the default one, ``False`` for no retry.
        circuit_breaker: A `CircuitBreakerPolicy`, ``True`` for the default one,
            ``False`` for no breaker.
        cost_tracking: Count tokens and dollars (``False`` leaves the layer out).
        budget_usd: Refuse calls once this many dollars are spent.
        prices: Your prices by model name, over genai-prices'.
        cache: ``True`` for an in-memory response cache, a backend, or a
            `CacheMiddleware`; placed right inside the tool loop.
        rate_limit: A `RateLimitPolicy` (or a ready `RateLimitMiddleware`): calls wait
            to stay under it, per provider and model; each backup gets the same limits
            under its own name.
        budget: A `BudgetPolicy` (or a ready `BudgetMiddleware`): dollars and tokens per
            key, checked before each model call.
        fallback: Providers or pipelines to try, in order, when the provider fails
            before any content. A provider gets its own breaker, retry, rate limiter
            and events layer; a pipeline is used as it is.
        hedge: A provider or pipeline to race against the provider once it is slow.
        hedge_delay: Seconds before hedging, or a `LatencyPercentile`.
        shared: A ``coredis.Redis`` or ``coredis.RedisCluster`` client (entered by you):
            the rate limits, budgets and circuit breaker states are kept there, shared
            by every process using it, with each feature's default failure mode.
        shared_namespace: The first part of the keys kept in ``shared``.
        telemetry: ``True`` for OpenTelemetry spans and metrics on the global providers,
            or a `TelemetryMiddleware`; placed outermost, with its ``model_calls`` layer
            right inside the tool loop and its ``attempts`` layer right inside retry.
        structured_output: Validate and re-ask ``output_type=`` answers (``True``: a
            `StructuredOutputMiddleware` with its default of 2 re-asks; give one to set
            another; ``False`` leaves it out, and ``output_type=`` is then refused).

    Raises:
        ConfigurationError: If ``budget_usd`` or ``prices`` is given without cost
            tracking, both ``fallback`` and ``hedge`` are given, or ``telemetry`` is
            neither a bool nor a `TelemetryMiddleware`.
    """
    if not cost_tracking and (budget_usd is not None or prices is not None):
        raise ConfigurationError(
            "budget_usd=... and prices=... need cost tracking: drop them or keep cost_tracking=True"
        )
    if fallback and hedge is not None:
        raise ConfigurationError(
            "give fallback=[...] or hedge=..., not both: hedging already falls back to "
            "its backup when the provider fails (compose them by hand with stack=[...])"
        )
    bus = events if events is not None else EventBus()
    pricer = Pricer(prices, provider=provider) if cost_tracking else None
    fleet = _Fleet(shared, shared_namespace)
    traced = _telemetry_layer(telemetry, provider)
    stack: list[object] = [ToolLoopMiddleware(bus)]
    if structured_output is not False:
        structured = (
            structured_output
            if isinstance(structured_output, StructuredOutputMiddleware)
            else StructuredOutputMiddleware()
        )
        stack.insert(0, structured)
    if traced is not None:
        stack = [traced, *stack, traced.model_calls]
    cache_layer = _cache_layer(cache, provider)
    if cache_layer is not None:
        stack.append(cache_layer)
    if budget is not None:
        stack.append(fleet.budget(budget, pricer))
    if pricer is not None:
        counted = usage if usage is not None else Usage()
        stack.append(CostTrackingMiddleware(counted, pricer=pricer, budget_usd=budget_usd))

    def provider_layers(name: str | None) -> list[object]:
        layers: list[object] = []
        if circuit_breaker is not False:
            policy = None if circuit_breaker is True else circuit_breaker
            layers.append(CircuitBreakerMiddleware(policy, provider=name, backend=fleet.circuits()))
        if retry is not False:
            layers.append(RetryMiddleware(None if retry is True else retry))
            if traced is not None:
                layers.append(traced.attempts)
        if rate_limit is not None:
            layers.append(fleet.rate_limit(rate_limit, name))
        layers.append(EventsMiddleware(bus, pricer=pricer))
        return layers

    def branch(target: Any) -> Pipeline:
        if isinstance(target, Pipeline):
            return target
        return Pipeline(provider_layers(middleware_name(target)), target)

    if fallback:
        from aether.middleware.fallback import FallbackMiddleware

        stack.append(FallbackMiddleware([branch(target) for target in fallback]))
    if hedge is not None:
        from aether.middleware.hedging import HedgingMiddleware

        stack.append(HedgingMiddleware(branch(hedge), delay=hedge_delay, pricer=pricer))
    return stack + provider_layers(provider)


class _Fleet:
    """Builds each feature's layer with its Redis backend when state is shared."""

    __slots__ = ("_circuits", "namespace", "redis")

    def __init__(self, redis: Any, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self._circuits: RedisCircuitBackend | None = None

    def circuits(self) -> RedisCircuitBackend | None:
        if self.redis is not None and self._circuits is None:
            self._circuits = RedisCircuitBackend(self.redis, namespace=self.namespace)
        return self._circuits

    def rate_limit(
        self, given: RateLimitPolicy | RateLimitMiddleware, provider: str | None
    ) -> RateLimitMiddleware:
        from aether.middleware.rate_limit import RateLimitMiddleware, RedisRateLimitBackend

        if isinstance(given, RateLimitMiddleware):
            return given
        backend = None
        if self.redis is not None:
            backend = RedisRateLimitBackend(self.redis, namespace=self.namespace)
        return RateLimitMiddleware(given, backend=backend, provider=provider)

    def budget(
        self, given: BudgetPolicy | BudgetMiddleware, pricer: Pricer | None
    ) -> BudgetMiddleware:
        from aether.middleware.budget import BudgetMiddleware, RedisBudgetBackend

        if isinstance(given, BudgetMiddleware):
            return given
        backend = None
        if self.redis is not None:
            backend = RedisBudgetBackend(self.redis, namespace=self.namespace)
        return BudgetMiddleware(given, backend=backend, pricer=pricer)


def build_default_stack(
    *,
    events: EventBus,
    usage: Usage,
    provider_name: str,
    with_retry: bool = True,
    with_circuit_breaker: bool = True,
    with_cost_tracking: bool = True,
    retry: RetryPolicy | None = None,
    circuit_breaker: CircuitBreakerPolicy | None = None,
    budget_usd: float | None = None,
    prices: Mapping[str, ModelPricing] | None = None,
    cache: CacheMiddleware | CacheBackend | bool | None = None,
    telemetry: TelemetryMiddleware | bool = False,
) -> list[object]:
    """`default_stack` in the terms of ``Aether(with_retry=..., ...)`` (what the client
    builds when given no ``stack=``)."""
    return default_stack(
        provider=provider_name,
        events=events,
        usage=usage,
        retry=(retry or True) if with_retry else False,
        circuit_breaker=(circuit_breaker or True) if with_circuit_breaker else False,
        cost_tracking=with_cost_tracking,
        budget_usd=budget_usd,
        prices=prices,
        cache=cache,
        telemetry=telemetry,
    )
