"""Aether: a small, fast middleware onion for calling large language models.

::

    from aether import Aether

    async with Aether() as client:          # LLM_PROVIDER picks the provider
        print(await client.ask("What is the meaning of life?"))
        print(f"Spent ${client.usage.total_cost_usd:.6f}")
"""

from typing import TYPE_CHECKING, Any

from aether.client import Aether, CallOptions, Prompt
from aether.config import ProviderConfig
from aether.errors import (
    AetherError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigurationError,
    ContentFilterError,
    EventLoopConflictError,
    MalformedResponseError,
    MiddlewareError,
    OutputRefusedError,
    OutputValidationError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    SessionCorruptedError,
    SessionError,
    SharedStateError,
    ToolArgumentsError,
    ToolError,
    ToolLoopLimitError,
)
from aether.events import EventBus
from aether.extensions.llm.builder import default_stack
from aether.extensions.llm.registry import register_provider
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMProvider,
    LLMRequest,
    LLMResponse,
    Message,
    ProviderPart,
    ReasoningPart,
    StreamChunk,
    TextPart,
    TokenCounts,
    Tool,
    ToolCall,
    ToolResult,
    part_from_path,
)
from aether.memory.contracts import SessionStore
from aether.memory.session import Session
from aether.middleware.circuit_breaker import CircuitBreakerPolicy
from aether.middleware.retry import RetryPolicy
from aether.pipeline import Pipeline, calls_only, on_request, streams_only
from aether.pricing import ModelPricing
from aether.registry import register
from aether.tools import register_tool
from aether.usage import TokenUsage, Usage

if TYPE_CHECKING:
    from aether.sync import SyncAether

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Loaded on first use, so ``import aether`` does not pay for them (benchmarks/README.md,
    # "Footprint"); the names stay where they were: ``from aether import SyncAether``.
    if name == "SyncAether":
        from aether.sync import SyncAether

        globals()[name] = SyncAether
        return SyncAether
    raise AttributeError(f"module 'aether' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Aether",
    "AetherError",
    "AudioPart",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CallOptions",
    "CircuitBreakerPolicy",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentFilterError",
    "DocumentPart",
    "EventBus",
    "EventLoopConflictError",
    "ImagePart",
    "LLMProvider",
    "LLMRequest",
    "LLMResponse",
    "MalformedResponseError",
    "Message",
    "MiddlewareError",
    "ModelPricing",
    "OutputRefusedError",
    "OutputValidationError",
    "Pipeline",
    "Prompt",
    "ProviderConfig",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderPart",
    "RateLimitError",
    "ReasoningPart",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "SessionCorruptedError",
    "SessionError",
    "SessionStore",
    "SharedStateError",
    "StreamChunk",
    "SyncAether",
    "TextPart",
    "TokenCounts",
    "TokenUsage",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolError",
    "ToolLoopLimitError",
    "ToolResult",
    "Usage",
    "__version__",
    "calls_only",
    "default_stack",
    "on_request",
    "part_from_path",
    "register",
    "register_provider",
    "register_tool",
    "streams_only",
]
