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
