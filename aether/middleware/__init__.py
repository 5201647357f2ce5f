"""Built-in middlewares, one per module. Each works alone in a stack of your own.

The default stack of ``Aether()``, outermost first: `ToolLoopMiddleware` →
[`CacheMiddleware`, opt-in] → `CostTrackingMiddleware` → `CircuitBreakerMiddleware` →
`RetryMiddleware` → `EventsMiddleware` → provider. `TelemetryMiddleware` (opt-in) sits
outermost, with its ``model_calls`` and ``attempts`` layers inside the tool loop and
inside retry.
"""

from aether.middleware.cache import CacheMiddleware
from aether.middleware.circuit_breaker import (
    CircuitBreakerMiddleware,
    CircuitBreakerPolicy,
    CircuitState,
    CircuitStateChange,
)
from aether.middleware.cost import CostTrackingMiddleware
from aether.middleware.events import EventsMiddleware
from aether.middleware.retry import RetryMiddleware, RetryPolicy
from aether.middleware.telemetry import TelemetryMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware

__all__ = [
    "CacheMiddleware",
    "CircuitBreakerMiddleware",
    "CircuitBreakerPolicy",
    "CircuitState",
    "CircuitStateChange",
    "CostTrackingMiddleware",
    "EventsMiddleware",
    "RetryMiddleware",
    "RetryPolicy",
    "TelemetryMiddleware",
    "ToolLoopMiddleware",
]
