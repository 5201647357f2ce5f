"""What a cassette stores, and how: JSON of the models, secrets scrubbed, errors as data."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aether import errors
from aether.errors import AetherError, ProviderError

__all__ = ["REDACTED", "dump", "error_from_json", "error_json", "scrub", "secrets_from_environment"]

REDACTED: Final = "<redacted>"
_SECRET_NAME = re.compile(r"authorization|api[-_]?key|token|secret|password|cookie", re.I)
_SECRET_ENV = re.compile(r"(_API_KEY|_TOKEN|_SECRET)$")


def dump(model: Any) -> Any:
    """A model as JSON data (its JSON mode: base64 bytes, ISO dates), defaults left out."""
    return json.loads(model.model_dump_json(exclude_defaults=True))


def secrets_from_environment() -> list[str]:
    """The values of ``*_API_KEY``, ``*_TOKEN`` and ``*_SECRET`` environment variables."""
    return [
        value
        for name, value in os.environ.items()
        if _SECRET_ENV.search(name) and len(value) >= 8
    ]


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every secret replaced, and strings under secret-named keys blanked."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _SECRET_NAME.search(str(key)) and isinstance(item, str)
            else scrub(item, secrets)
            for key, item in value.items()
        }  # fmt: skip
    if isinstance(value, list | tuple):
        return [scrub(item, secrets) for item in value]
    return value


def error_json(error: AetherError) -> dict[str, Any]:
    """An Aether error as data: its class, message and, for a provider error, details."""
    recorded: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, ProviderError):
        recorded.update(
            message=error.message,
            provider=error.provider,
            status_code=error.status_code,
            retry_after=error.retry_after,
        )
    return recorded


def error_from_json(recorded: Mapping[str, Any]) -> Exception:
    """The Aether error a recording describes (a `ProviderError` for an unknown class)."""
    kind = getattr(errors, str(recorded.get("type")), None)
    message = str(recorded.get("message", "recorded error"))
    if isinstance(kind, type) and issubclass(kind, ProviderError):
        return kind(
            message,
            provider=recorded.get("provider"),
            status_code=recorded.get("status_code"),
            retry_after=recorded.get("retry_after"),
        )
    if isinstance(kind, type) and issubclass(kind, AetherError):
        return kind(message)
    return ProviderError(f"{recorded.get('type')}: {message}")
