"""The user-facing LLM API: contracts and the one-shot `ask` helper."""

from aether.llm.contracts import (
    LLMProvider,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    Tool,
    ToolCall,
    ToolResult,
)

__all__ = [
    "LLMProvider",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "StreamChunk",
    "Tool",
    "ToolCall",
    "ToolResult",
]
