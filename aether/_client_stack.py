"""What `Aether(...)` builds once: its arguments checked against each other, the
provider made, the stack assembled, and the layers it reports found in that stack.

Split from `aether.client`; nothing here runs per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aether import config as settings
from aether._client_inputs import cache_layer
from aether.config import ProviderConfig
from aether.errors import ConfigurationError
from aether.events import EventBus
from aether.extensions.llm.builder import build_default_stack
from aether.extensions.llm.factory import create_provider
from aether.middleware.circuit_breaker import CircuitBreakerMiddleware, CircuitBreakerPolicy
from aether.middleware.cost import CostTrackingMiddleware
from aether.middleware.events import EventsMiddleware
from aether.middleware.retry import RetryPolicy
from aether.middleware.structured_output import StructuredOutputMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware
from aether.pipeline import Pipeline, middleware_name
from aether.pricing import ModelPricing
from aether.tools.registry import ToolLike
from aether.usage import Usage

if TYPE_CHECKING:  # loaded when used: ``import aether`` does not load them
    from aether.middleware.cache import CacheBackend, CacheMiddleware
    from aether.middleware.telemetry import TelemetryMiddleware


@dataclass(slots=True)
class Assembly:
    """What the client keeps of its construction."""

    provider: Any
    provider_name: str
    events: EventBus
    usage: Usage
    circuit_breaker: CircuitBreakerMiddleware | None
    cache: CacheMiddleware | None
    pipeline: Pipeline
    structured: bool


def assemble(
    provider: Any,
    *,
    config: ProviderConfig | None,
    middleware: Sequence[object],
    stack: Sequence[object] | None,
    events: EventBus | None,
    with_retry: bool,
    with_circuit_breaker: bool,
    with_cost_tracking: bool,
    retry: RetryPolicy | None,
    circuit_breaker: CircuitBreakerPolicy | None,
    budget_usd: float | None,
    prices: Mapping[str, ModelPricing] | None,
    cache: CacheMiddleware | CacheBackend | bool | None,
    telemetry: TelemetryMiddleware | bool,
) -> Assembly:
    """Check the arguments of `Aether(...)` (every problem at once) and build from them."""
    problems = []
    if provider is not None and config is not None:
        problems.append("pass either a provider or config=ProviderConfig(...), not both")
    for given, switch, names in (
        (retry is not None, with_retry, "retry=..."),
        (circuit_breaker is not None, with_circuit_breaker, "circuit_breaker=..."),
        (budget_usd is not None or prices is not None, with_cost_tracking,
         "budget_usd=... or prices=..."),
    ):  # fmt: skip
        if given and (stack is not None or not switch):
            problems.append(
                f"{names} has no effect with stack=[...] or with that layer switched "
                f"off (with_*=False); drop one of the two"
            )
    if stack is not None and cache is not None and cache is not False:
        problems.append(
            "cache=... has no effect with stack=[...]: put a CacheMiddleware in the stack "
            "list instead (inside the tool loop, outside cost tracking)"
        )
    if stack is not None and telemetry is not False:
        problems.append(
            "telemetry=... has no effect with stack=[...]: build the stack with "
            "default_stack(telemetry=...) or put a TelemetryMiddleware in it"
        )
    if stack is not None and (
        middleware or not (with_retry and with_circuit_breaker and with_cost_tracking)
    ):
        problems.append(
            "stack=[...] replaces the default stack: do not also pass middleware=[...] "
            "or with_*=False (put your middlewares in the stack list instead)"
        )
    if problems:
        raise ConfigurationError("; ".join(problems), problems=problems)

    if provider is None:
        config = config or ProviderConfig()
        provider = create_provider(config)
        provider_name = config.name
    else:
        provider_name = middleware_name(provider)
    bus = events if events is not None else EventBus()
    usage = Usage()
    if telemetry is True:
        from aether.middleware.telemetry import TelemetryMiddleware

        telemetry = TelemetryMiddleware(
            provider=provider_name, base_url=getattr(provider, "base_url", None)
        )
    if stack is None:
        stack = [
            *middleware,
            *build_default_stack(
                events=bus,
                usage=usage,
                provider_name=provider_name,
                with_retry=with_retry,
                with_circuit_breaker=with_circuit_breaker,
                with_cost_tracking=with_cost_tracking,
                retry=retry,
                circuit_breaker=circuit_breaker,
                budget_usd=budget_usd,
                prices=prices,
                cache=cache,
                telemetry=telemetry,
            ),
        ]
    elif events is None:
        # A stack of your own: client.on(...) subscribes to the bus its layers emit on.
        bus = next(
            (layer.events for layer in stack if isinstance(layer, ToolLoopMiddleware)
             and layer.events is not None),
            next((layer.bus for layer in stack if isinstance(layer, EventsMiddleware)), bus),
        )  # fmt: skip
    cost_tracking = next(
        (layer for layer in stack if isinstance(layer, CostTrackingMiddleware)), None
    )
    if cost_tracking is not None:
        # A stack of your own: client.usage is what its cost tracking counts.
        usage = cost_tracking.usage
    found_cache = cache_layer(stack)
    if found_cache is not None:
        found_cache._serve(provider)  # its keys hold who answers: endpoint, account
    return Assembly(
        provider=provider,
        provider_name=provider_name,
        events=bus,
        usage=usage,
        circuit_breaker=next(
            (layer for layer in stack if isinstance(layer, CircuitBreakerMiddleware)), None
        ),
        cache=found_cache,
        pipeline=Pipeline(stack, provider),
        structured=any(isinstance(layer, StructuredOutputMiddleware) for layer in stack),
    )


async def start_toolsets(tools: Sequence[ToolLike]) -> AsyncExitStack:
    """Enter the toolsets among ``tools``; the returned stack exits them."""
    stack = AsyncExitStack()
    try:
        for item in tools:
            if hasattr(item, "current_tools") and hasattr(item, "__aenter__"):
                await stack.enter_async_context(item)  # type: ignore[arg-type]
    except BaseException:
        await stack.aclose()
        raise
    return stack


def unknown_arguments(owner: str, names: set[str], known: frozenset[str]) -> TypeError:
    return TypeError(
        f"{owner}() got unknown argument {settings.unknown_names(names, known)}; the "
        f"arguments are {', '.join(sorted(known))}"
    )
