"""The providers that ship with Aether, registered by path so no SDK loads until used."""

from __future__ import annotations

from typing import Any

from aether.extensions.llm.registry import register_provider_path
from aether.registry import PROVIDER_KIND, registry

__all__ = ["BUILTIN_PROVIDERS", "ensure_registered"]

BUILTIN_PROVIDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "fake": ("aether.extensions.llm.fake:FakeProvider", {}),
    "openai": (
        "aether.extensions.llm.openai:OpenAIProvider",
        {
            "api_key_env": "OPENAI_API_KEY",
            "model_env": "OPENAI_MODEL",
            "base_url_env": "OPENAI_BASE_URL",
        },
    ),
    "openai-responses": (
        "aether.extensions.llm.openai_responses:OpenAIResponsesProvider",
        {
            "api_key_env": "OPENAI_API_KEY",
            "model_env": "OPENAI_MODEL",
            "base_url_env": "OPENAI_BASE_URL",
        },
    ),
    "gemini": (
        "aether.extensions.llm.gemini:GeminiProvider",
        {"api_key_env": "GEMINI_API_KEY", "model_env": "GEMINI_MODEL"},
    ),
    "anthropic": (
        "aether.extensions.llm.anthropic:AnthropicProvider",
        {"api_key_env": "ANTHROPIC_API_KEY", "model_env": "ANTHROPIC_MODEL"},
    ),
}
"""name → (``module:Class``, registration metadata)."""


def ensure_registered() -> None:
    """Register each built-in provider unless something already took its name."""
    for name, (target, metadata) in BUILTIN_PROVIDERS.items():
        if registry.find(PROVIDER_KIND, name) is None:
            register_provider_path(name, target, **metadata)
