"""Provider factory: a `ProviderConfig` (or the environment) in, a provider instance out."""

from __future__ import annotations

import difflib
import os
from typing import Any

from aether.config import ProviderConfig
from aether.errors import ConfigurationError
from aether.extensions.llm import builtin
from aether.extensions.llm._errors import missing_api_key
from aether.registry import PROVIDER_KIND, registry

__all__ = ["create_provider"]


def _env(name: str | None) -> str | None:
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    return value or None


def _unknown_provider(config: ProviderConfig) -> ConfigurationError:
    # Not a fallback to the default, unlike other settings: a typo must not quietly send
    # prompts (and bills) to another vendor.
    known = registry.names(PROVIDER_KIND)
    close = difflib.get_close_matches(config.name, known, n=1, cutoff=0.7)
    source = "ProviderConfig(name=...)" if "name" in config.model_fields_set else "LLM_PROVIDER"
    return ConfigurationError(
        f"unknown provider {config.name!r} (from {source})"
        + (f"; did you mean {close[0]!r}?" if close else "")
        + f" Known: {', '.join(sorted(known))}; register another with "
        f"aether.register_provider."
    )


def create_provider(config: ProviderConfig | None = None) -> Any:
    """Build the provider that ``config`` names (default: ``LLM_PROVIDER``).

    Unset fields are read from the variables the provider was registered with.

    Raises:
        ConfigurationError: If the provider is unknown (the message lists the known ones)
            or its API key is missing (the message names the variable to set).
    """
    builtin.ensure_registered()
    config = config or ProviderConfig()
    try:
        entry = registry.get(PROVIDER_KIND, config.name)
    except ConfigurationError:
        raise _unknown_provider(config) from None
    metadata = entry.metadata
    api_key_env = metadata.get("api_key_env")
    api_key = config.api_key.get_secret_value() if config.api_key else _env(api_key_env)
    model = config.model or _env(metadata.get("model_env"))
    base_url = config.base_url or _env(metadata.get("base_url_env"))
    if metadata.get("requires_api_key") and not api_key and not base_url:
        raise missing_api_key(config.name, api_key_env, how="or pass ProviderConfig(api_key=...)")
    kwargs: dict[str, Any] = {}
    if api_key:
        kwargs["api_key"] = api_key
    if model:
        kwargs["default_model"] = model
    if base_url:
        kwargs["base_url"] = base_url
    kwargs.update(config.options)
    cls = entry.load()
    try:
        return cls(**kwargs)
    except ImportError as error:
        raise ConfigurationError(
            f"the {config.name!r} provider needs a package that is not installed "
            f"({error.name or error}); install it with pip install 'aether-llm[{config.name}]'"
        ) from error
