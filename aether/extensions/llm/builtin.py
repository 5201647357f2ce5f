"""The providers that ship with Aether, registered by path so no SDK loads until used."""

from __future__ import annotations

from typing import Any

from aether.extensions.llm.registry import register_provider_path
from aether.registry import PROVIDER_KIND, registry

__all__ = ["BUILTIN_PROVIDERS", "ensure_registered"]

BUILTIN_PROVIDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "fake": ("aether.extensions.llm.fake:FakeProvider", {}),
}
"""name → (``module:Class``, registration metadata)."""


def ensure_registered() -> None:
    """Register each built-in provider unless something already took its name."""
    for name, (target, metadata) in BUILTIN_PROVIDERS.items():
        if registry.find(PROVIDER_KIND, name) is None:
            register_provider_path(name, target, **metadata)
