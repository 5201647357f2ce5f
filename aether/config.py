"""Runtime settings, read from environment variables, never at import time.

The provider settings (``LLM_PROVIDER``, ``*_API_KEY``, ``*_MODEL``, ``OPENAI_BASE_URL``)
are read when ``Aether()`` builds its provider; every other variable at call time.

Precedence everywhere: a per-call keyword argument, then the environment variable, then the
fallback written here. An invalid value falls back to the default and logs one warning
naming the variable and the bad value (once per value, not once per call).

=============================  =========  ===========================================
Variable                       Default    Affects
=============================  =========  ===========================================
LLM_PROVIDER                   openai     which provider ``Aether()`` builds
OPENAI_API_KEY / ...           (none)     the chosen provider's API key
OPENAI_MODEL / ...             provider   the provider's default model
AETHER_DEFAULT_TEMPERATURE     0.7        temperature sent when a call gives none, to
                                          models that take one; ``none`` sends none
AETHER_MAX_TOOL_ITERATIONS     10         tool-loop cap
AETHER_HTTP_TOOL_TIMEOUT       10.0       seconds, for the ``http_get`` tool
AETHER_HTTP_TOOL_MAX_BYTES     100000     body size before ``http_get`` truncates
AETHER_FILE_TOOL_MAX_BYTES     200000     bytes before ``read_file`` truncates
AETHER_FILE_TOOL_ROOT          (cwd)      the directory ``read_file`` is confined to
AETHER_HTTP_TOOL_ALLOW_HOSTS   (none)     comma-separated host names, IPs or networks
                                          that ``http_get`` may reach though private
=============================  =========  ===========================================
"""

from __future__ import annotations

import difflib
import logging
import math
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "DEFAULT_FILE_TOOL_MAX_BYTES",
    "DEFAULT_HTTP_TOOL_MAX_BYTES",
    "DEFAULT_HTTP_TOOL_TIMEOUT",
    "DEFAULT_MAX_TOOL_ITERATIONS",
    "DEFAULT_PROVIDER",
    "DEFAULT_TEMPERATURE",
    "ProviderConfig",
    "default_temperature",
    "file_tool_max_bytes",
    "file_tool_root",
    "http_tool_allow_hosts",
    "http_tool_max_bytes",
    "http_tool_timeout",
    "max_tool_iterations",
    "number_problem",
    "provider_name",
    "unknown_names",
]

logger = logging.getLogger("aether.config")

DEFAULT_PROVIDER = "openai"
DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOOL_ITERATIONS = 10
DEFAULT_HTTP_TOOL_TIMEOUT = 10.0
DEFAULT_HTTP_TOOL_MAX_BYTES = 100_000
DEFAULT_FILE_TOOL_MAX_BYTES = 200_000

_T = TypeVar("_T")
_warned: set[tuple[str, str]] = set()
_parsed: dict[tuple[str, str], Any] = {}
_NO_VALUE = object()


def _read(
    name: str,
    parse: Callable[[str], _T],
    default: _T,
    check: Callable[[_T], bool] = lambda _: True,
    expected: str = "",
) -> _T:
    raw = os.environ.get(name)
    if raw is None:
        return default
    # Parsing is memoised per raw value, so a call-time read costs one environ lookup.
    cached = _parsed.get((name, raw), _NO_VALUE)
    if cached is not _NO_VALUE:
        return cached  # type: ignore[no-any-return]
    value: Any = default
    if raw.strip():
        try:
            value = parse(raw.strip())
            valid = check(value)
        except ValueError:
            valid = False
        if not valid:
            value = default
            if (name, raw) not in _warned:
                _warned.add((name, raw))
                logger.warning(
                    "%s=%r is not valid (%s); using the default %r", name, raw, expected, default
                )
    if len(_parsed) < 1024:
        _parsed[(name, raw)] = value
    return value  # type: ignore[no-any-return]


def number_problem(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
    unit: str = "",
) -> str | None:
    """What is wrong with a numeric setting, or ``None`` when it is fine.

    Args:
        name: The setting as the user wrote it (``attempts``, ``budget_usd``...).
        value: The value given.
        minimum: The smallest allowed value, if any.
        maximum: The largest allowed value, if any.
        whole: Whether only whole numbers (``int``) are allowed.
        unit: Appended to the bounds in the message (``" seconds"``).
    """
    kind = "a whole number" if whole else "a number"
    allowed = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        return f"{name} must be {kind}, not {value!r} ({type(value).__name__})"
    if not math.isfinite(value):
        return f"{name} must be a finite number, not {value!r}"
    if minimum is not None and value < minimum:
        return f"{name} must be at least {minimum:g}{unit}, not {value!r}"
    if maximum is not None and value > maximum:
        return f"{name} must be at most {maximum:g}{unit}, not {value!r}"
    return None


def unknown_names(names: Iterable[str], known: Iterable[str]) -> str:
    """``'retries' (did you mean 'retry'?), 'foo'``: misspelt names with the likely ones."""
    choices = sorted(known)
    advice = []
    for name in sorted(map(str, names)):
        close = difflib.get_close_matches(name, choices, n=1)
        advice.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return ", ".join(advice)


def _temperature(raw: str) -> float | None:
    if raw.lower() in ("none", "null", "unset"):
        return None
    return float(raw)


def provider_name() -> str:
    """``LLM_PROVIDER``, lower-cased; ``openai`` when unset."""
    return os.environ.get("LLM_PROVIDER", "").strip().lower() or DEFAULT_PROVIDER


def default_temperature(override: float | None = None) -> float | None:
    """The temperature to send when a call gives none.

    The facade records it in `LLMRequest.defaults`, and the adapters send it only to
    models that take it (see `aether.extensions.llm.sampling`).
    ``AETHER_DEFAULT_TEMPERATURE=none`` sends no default temperature to any model.
    """
    if override is not None:
        return override
    default: float | None = DEFAULT_TEMPERATURE
    return _read(
        "AETHER_DEFAULT_TEMPERATURE",
        _temperature,
        default,
        lambda value: value is None or 0.0 <= value <= 2.0,
        "a number from 0 to 2, or 'none'",
    )


def max_tool_iterations(override: int | None = None) -> int:
    """``AETHER_MAX_TOOL_ITERATIONS``: how many model calls the tool loop may make."""
    if override is not None:
        return override
    return _read(
        "AETHER_MAX_TOOL_ITERATIONS",
        int,
        DEFAULT_MAX_TOOL_ITERATIONS,
        lambda value: value >= 1,
        "a whole number of at least 1",
    )


def http_tool_timeout(override: float | None = None) -> float:
    """``AETHER_HTTP_TOOL_TIMEOUT``: seconds before ``http_get`` gives up."""
    if override is not None:
        return override
    return _read(
        "AETHER_HTTP_TOOL_TIMEOUT",
        float,
        DEFAULT_HTTP_TOOL_TIMEOUT,
        lambda value: 0 < value < math.inf,
        "a finite number of seconds above 0",
    )


def http_tool_max_bytes(override: int | None = None) -> int:
    """``AETHER_HTTP_TOOL_MAX_BYTES``: body bytes ``http_get`` returns before truncating."""
    if override is not None:
        return override
    return _read(
        "AETHER_HTTP_TOOL_MAX_BYTES",
        int,
        DEFAULT_HTTP_TOOL_MAX_BYTES,
        lambda value: value >= 1,
        "a whole number of bytes of at least 1",
    )


def file_tool_max_bytes(override: int | None = None) -> int:
    """``AETHER_FILE_TOOL_MAX_BYTES``: bytes ``read_file`` returns before truncating."""
    if override is not None:
        return override
    return _read(
        "AETHER_FILE_TOOL_MAX_BYTES",
        int,
        DEFAULT_FILE_TOOL_MAX_BYTES,
        lambda value: value >= 1,
        "a whole number of bytes of at least 1",
    )


def file_tool_root(override: str | os.PathLike[str] | None = None) -> str:
    """``AETHER_FILE_TOOL_ROOT``: the directory ``read_file`` may read; the cwd if unset."""
    if override is not None:
        return os.fspath(override)
    return os.environ.get("AETHER_FILE_TOOL_ROOT", "").strip() or os.getcwd()


def http_tool_allow_hosts() -> tuple[str, ...]:
    """``AETHER_HTTP_TOOL_ALLOW_HOSTS``: what ``http_get`` may reach despite its SSRF guard.

    Comma-separated host names (matched exactly, case-insensitively), IP addresses or
    networks (``10.0.0.0/8``). Empty by default: only public addresses are reachable.
    """
    raw = os.environ.get("AETHER_HTTP_TOOL_ALLOW_HOSTS", "")
    return tuple(item.strip().lower() for item in raw.split(",") if item.strip())


class ProviderConfig(BaseModel):
    """How to build one provider: ``Aether(config=ProviderConfig(name="openai", ...))``.

    Fields left as ``None`` are read from the provider's environment variables (named
    when it was registered) when the client is built.

    Attributes:
        name: The registered provider name (``openai``, ``gemini``, ``anthropic``, ``fake``).
        api_key: The API key; never shown in a repr or a log.
        model: The default model for calls that name none.
        base_url: The server to talk to (any OpenAI-compatible server, for ``openai``).
        options: Extra keyword arguments for the provider's constructor.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
    """A misspelt field's value, which may be a key, stays out of the error message."""

    name: str = Field(default_factory=provider_name)
    api_key: SecretStr | None = None
    model: str | None = None
    base_url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_misspelt_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.keys() - cls.model_fields:
            raise ValueError(
                f"unknown ProviderConfig field "
                f"{unknown_names(data.keys() - cls.model_fields, cls.model_fields)}; the "
                f"fields are {', '.join(sorted(cls.model_fields))} (constructor arguments "
                f"of the provider go in options)"
            )
        return data

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "options":
                # Options may hold a key or an HTTP client with auth headers: names only.
                value = {option: "***" for option in value}
            yield name, value
