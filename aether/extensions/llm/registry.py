"""Registering LLM providers, so ``LLM_PROVIDER=name`` builds them with no framework change.

::

    @register_provider("ollama", api_key_env="OLLAMA_API_KEY", model_env="OLLAMA_MODEL")
    class OllamaProvider:
        def __init__(self, api_key: str | None = None, default_model: str = "llama3"): ...
        async def complete(self, request: LLMRequest) -> LLMResponse: ...

The factory builds a provider with the keyword arguments ``api_key``, ``default_model`` and
``base_url`` (each only when known), plus ``ProviderConfig.options``. Packages can also
publish providers through the ``aether.providers`` entry-point group; the target may carry
the same metadata in an ``aether_provider`` dict attribute.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from aether.registry import PROVIDER_KIND, registry

__all__ = ["register_provider", "register_provider_path"]

_T = TypeVar("_T")


def _metadata(
    api_key_env: str | None,
    model_env: str | None,
    base_url_env: str | None,
    requires_api_key: bool | None,
) -> dict[str, Any]:
    return {
        "api_key_env": api_key_env,
        "model_env": model_env,
        "base_url_env": base_url_env,
        "requires_api_key": bool(api_key_env) if requires_api_key is None else requires_api_key,
    }


def _constructor_requires_api_key(cls: object) -> bool:
    try:
        parameter = inspect.signature(cls).parameters.get("api_key")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    return parameter is not None and parameter.default is inspect.Parameter.empty


def register_provider(
    name: str,
    *,
    api_key_env: str | None = None,
    model_env: str | None = None,
    base_url_env: str | None = None,
    requires_api_key: bool | None = None,
    replace: bool = False,
) -> Callable[[_T], _T]:
    """Decorator: register a provider class under ``name``.

    Args:
        name: The value of ``LLM_PROVIDER`` that selects it.
        api_key_env: The variable holding its API key.
        model_env: The variable holding its default model.
        base_url_env: The variable holding its server address.
        requires_api_key: Whether building it without a key is an error. By default the
            constructor decides: a required ``api_key`` parameter makes the key required,
            one with a default (``api_key: str | None = None``) makes it optional. A
            configured base URL lifts the requirement (local servers rarely need a key).
        replace: Replace an existing registration of ``name`` on purpose.

    Registering the same class again (same module and qualified name: a notebook cell
    run twice, ``importlib.reload``) replaces it.

    Raises:
        ConfigurationError: If ``name`` is taken by another class and ``replace`` is false.
    """

    def decorator(cls: _T) -> _T:
        required = requires_api_key
        if required is None:
            required = bool(api_key_env) and _constructor_requires_api_key(cls)
        registry.add(
            PROVIDER_KIND,
            name,
            cls,
            replace=replace,
            **_metadata(api_key_env, model_env, base_url_env, required),
        )
        return cls

    return decorator


def register_provider_path(
    name: str,
    target: str,
    *,
    api_key_env: str | None = None,
    model_env: str | None = None,
    base_url_env: str | None = None,
    requires_api_key: bool | None = None,
) -> None:
    """Register a provider by ``"module:Class"`` path, imported only when first built."""
    registry.add(
        PROVIDER_KIND,
        name,
        target,
        **_metadata(api_key_env, model_env, base_url_env, requires_api_key),
    )
