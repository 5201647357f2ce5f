"""The default stack: which built-in middlewares ``Aether()`` puts around the provider.

Outermost first::

    [your middleware=...] → Events → provider

Later layers (cost tracking, circuit breaker, retry, the tool loop) slot in here, in the
order documented in the README.
"""

from __future__ import annotations

from aether.events import EventBus
from aether.middleware.events import EventsMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware
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
) -> list[object]:
    """The built-in middlewares of ``Aether()``, outermost first (the provider excluded)."""
    del usage, provider_name, with_retry, with_circuit_breaker, with_cost_tracking
    return [ToolLoopMiddleware(events), EventsMiddleware(events)]
