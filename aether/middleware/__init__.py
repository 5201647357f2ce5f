"""Built-in middlewares, one per module. Each works alone in a stack of your own.

The default stack of ``Aether()``, outermost first: `StructuredOutputMiddleware` →
`ToolLoopMiddleware` → [`CacheMiddleware`, opt-in] → `CostTrackingMiddleware` →
`CircuitBreakerMiddleware` → `RetryMiddleware` → `EventsMiddleware` → provider.

`default_stack(...)` adds the opt-in ones where they act once per model call:
[`BudgetMiddleware`] just above cost tracking, [`FallbackMiddleware` or
`HedgingMiddleware`] just below it, [`RateLimitMiddleware`] just below retry.
`TelemetryMiddleware` (opt-in) sits outermost, with its ``model_calls`` and ``attempts``
layers inside the tool loop and inside retry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aether.middleware.budget import BudgetMiddleware, BudgetPolicy
    from aether.middleware.cache import CacheMiddleware
    from aether.middleware.circuit_breaker import (
        CircuitBreakerMiddleware,
        CircuitBreakerPolicy,
        CircuitState,
        CircuitStateChange,
    )
    from aether.middleware.cost import CostTrackingMiddleware
    from aether.middleware.events import EventsMiddleware
    from aether.middleware.fallback import FallbackMiddleware
    from aether.middleware.hedging import HedgingMiddleware, LatencyPercentile
    from aether.middleware.rate_limit import RateLimitMiddleware, RateLimitPolicy
    from aether.middleware.retry import RetryMiddleware, RetryPolicy
    from aether.middleware.structured_output import StructuredOutputMiddleware
    from aether.middleware.telemetry import TelemetryMiddleware
    from aether.middleware.tool_loop import ToolLoopMiddleware

# Each middleware's module loads on first use (``from aether.middleware import X`` or
# ``aether.middleware.X``): ``import aether`` loads only the default stack's.
_MODULES = {
    "BudgetMiddleware": "aether.middleware.budget",
    "BudgetPolicy": "aether.middleware.budget",
    "CacheMiddleware": "aether.middleware.cache",
    "CircuitBreakerMiddleware": "aether.middleware.circuit_breaker",
    "CircuitBreakerPolicy": "aether.middleware.circuit_breaker",
    "CircuitState": "aether.middleware.circuit_breaker",
    "CircuitStateChange": "aether.middleware.circuit_breaker",
    "CostTrackingMiddleware": "aether.middleware.cost",
    "EventsMiddleware": "aether.middleware.events",
    "FallbackMiddleware": "aether.middleware.fallback",
    "HedgingMiddleware": "aether.middleware.hedging",
    "LatencyPercentile": "aether.middleware.hedging",
    "RateLimitMiddleware": "aether.middleware.rate_limit",
    "RateLimitPolicy": "aether.middleware.rate_limit",
    "RetryMiddleware": "aether.middleware.retry",
    "RetryPolicy": "aether.middleware.retry",
    "StructuredOutputMiddleware": "aether.middleware.structured_output",
    "TelemetryMiddleware": "aether.middleware.telemetry",
    "ToolLoopMiddleware": "aether.middleware.tool_loop",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        if f"aether.middleware.{name}" in _MODULES.values():  # a submodule, as before
            return importlib.import_module(f"aether.middleware.{name}")
        raise AttributeError(f"module 'aether.middleware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BudgetMiddleware",
    "BudgetPolicy",
    "CacheMiddleware",
    "CircuitBreakerMiddleware",
    "CircuitBreakerPolicy",
    "CircuitState",
    "CircuitStateChange",
    "CostTrackingMiddleware",
    "EventsMiddleware",
    "FallbackMiddleware",
    "HedgingMiddleware",
    "LatencyPercentile",
    "RateLimitMiddleware",
    "RateLimitPolicy",
    "RetryMiddleware",
    "RetryPolicy",
    "StructuredOutputMiddleware",
    "TelemetryMiddleware",
    "ToolLoopMiddleware",
]
