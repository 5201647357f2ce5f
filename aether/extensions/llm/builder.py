"""The default stack: which built-in middlewares ``Aether()`` puts around the provider.

Outermost first::

    [your middleware=...] → ToolLoop → [Cache] → CostTracking → CircuitBreaker → Retry
                          → Events → provider

The tool loop is outermost of the built-ins: each iteration re-enters the chain below it,
so cost counts, retry retries and events fire once per model call. Cost tracking is next
so it counts only what billed (not retried attempts) and its budget check refuses a call
before anything else runs. The breaker sits outside retry, so a call whose retries are all
exhausted counts as one failure, not one per attempt. Events sit inside retry, so each
attempt is its own request.start/complete/error. The response cache (opt-in) sits inside
the tool loop, so each model call is cached and tools still run, and outside cost
tracking, so a hit is not a billed request.
"""

from __future__ import annotations

from collections.abc import Mapping

from aether.events import EventBus
from aether.middleware.cache import CacheMiddleware
from aether.middleware.circuit_breaker import CircuitBreakerMiddleware, CircuitBreakerPolicy
from aether.middleware.cost import CostTrackingMiddleware
from aether.middleware.events import EventsMiddleware
from aether.middleware.retry import RetryMiddleware, RetryPolicy
from aether.middleware.tool_loop import ToolLoopMiddleware
from aether.pricing import ModelPricing, Pricer
from aether.usage import Usage

__all__ = ["build_default_stack"]


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
    cache: CacheMiddleware | None = None,
) -> list[object]:
    """The built-in middlewares of ``Aether()``, outermost first (the provider excluded).

    Args:
        events: The bus the events middleware emits on.
        usage: Where cost tracking counts.
        provider_name: The provider's name, for circuit keys and price lookups.
        with_retry: Include retry.
        with_circuit_breaker: Include the circuit breaker.
        with_cost_tracking: Include cost tracking.
        retry: The retry policy (the default `RetryPolicy` if not given).
        circuit_breaker: The breaker policy (the default one if not given).
        budget_usd: Cost tracking's budget.
        prices: Your prices by model name, over genai-prices'.
        cache: The response cache, placed right inside the tool loop.
    """
    pricer = Pricer(prices, provider=provider_name) if with_cost_tracking else None
    stack: list[object] = [ToolLoopMiddleware(events)]
    if cache is not None:
        stack.append(cache)
    if pricer is not None:
        stack.append(CostTrackingMiddleware(usage, pricer=pricer, budget_usd=budget_usd))
    if with_circuit_breaker:
        stack.append(CircuitBreakerMiddleware(circuit_breaker, provider=provider_name))
    if with_retry:
        stack.append(RetryMiddleware(retry))
    stack.append(EventsMiddleware(events, pricer=pricer))
    return stack
