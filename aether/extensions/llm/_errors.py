"""Turning a vendor's failures into Aether's error classes, at the adapter boundary.

Each adapter catches its SDK's exceptions and calls these helpers, so retry and the
circuit breaker only ever see `aether.errors` classes. Messages say what the server
said and what to do next; the API key is scrubbed from anything a server echoes back.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from aether.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    error_for_status,
)
from aether.extensions.llm._http import retry_after_seconds

__all__ = [
    "CONTENT_FILTER_CODES",
    "connection_error",
    "event_error",
    "malformed",
    "missing_api_key",
    "redact",
    "scrub_secrets",
    "status_error",
    "transport_error",
]

CONTENT_FILTER_CODES = frozenset(
    {"content_filter", "content_policy_violation", "content_filtered", "safety"}
)
"""Vendor error codes that mean "refused by the safety filter"."""

_ADVICE: dict[type[ProviderError], str] = {
    RateLimitError: "Slow down or wait retry_after seconds; Aether's retry honours it.",
    RequestTimeoutError: "The server gave up waiting; retrying may succeed.",
    ServerError: "The provider failed on its side; retrying may succeed.",
    AuthenticationError: "Check the API key ({key_env}) and its permissions.",
    ContentFilterError: "The provider's safety filter refused it; rephrase the prompt.",
    BadRequestError: "Fix the request (model name, parameters, messages) before retrying.",
}


def missing_api_key(provider: str, key_env: str | None, *, how: str) -> ConfigurationError:
    """The error for a provider built without its key, naming the variable to set."""
    return ConfigurationError(
        f"the {provider!r} provider needs an API key: set {key_env} ({how}). To try "
        f"Aether without one, set LLM_PROVIDER=fake."
    )


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _redacted(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redacted(item, secrets) for item in value)
    if isinstance(value, BaseModel):  # the SDKs' typed error details
        given = {**vars(value), **(value.__pydantic_extra__ or {})}
        return value.model_copy(
            update={name: _redacted(item, secrets) for name, item in given.items()}
        )
    return value


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions chained under it (cause, else context), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def scrub_secrets(error: BaseException, secrets: Iterable[str | None]) -> None:
    """Redact ``secrets`` in place from ``error`` and the exceptions chained to it.

    Aether's own errors say what the server said with the key scrubbed, but they chain
    the SDK's exception as their cause, and its text (shown by any traceback, log or
    error tracker) repeats whatever the server echoed, an API key included. Its
    arguments, string attributes (``message``), JSON ones (``body``) and typed models
    (anthropic's ``details``, extra fields included) are redacted; so are those of its
    own causes.
    """
    keys = [secret for secret in secrets if secret and len(secret) >= 4]
    for current in _chain(error) if keys else ():
        try:
            current.args = _redacted(current.args, keys)
            for name, value in list(vars(current).items()):
                if isinstance(value, str | dict | list | tuple | BaseModel):
                    setattr(current, name, _redacted(value, keys))
        except (AttributeError, TypeError):  # an exception type that cannot be changed
            pass


def still_shows_secrets(error: BaseException, secrets: Iterable[str | None]) -> bool:
    """Whether the text of ``error`` or of an exception chained to it shows a secret."""
    keys = [secret for secret in secrets if secret and len(secret) >= 4]
    return any(key in f"{current!s} {current!r}" for current in _chain(error) for key in keys)


def _advice(cls: type[ProviderError], key_env: str) -> str:
    for base in cls.__mro__:
        if base in _ADVICE:
            return _ADVICE[base].format(key_env=key_env)
    return ""


def status_error(
    *,
    provider: str,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None,
    secrets: Iterable[str | None],
    key_env: str,
    code: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The Aether error for an HTTP error status, with ``retry_after`` from the headers.

    Args:
        provider: The provider's name, for the message and the error's field.
        status: The HTTP status.
        detail: What the server said (its error message).
        headers: The response headers, for ``retry-after-ms`` and ``Retry-After``.
        secrets: Values to scrub from the message (the API key).
        key_env: The variable holding the key, named in the advice for 401 and 403.
        code: The vendor's error code or type; a content-filter code makes the error a
            `ContentFilterError`.
        retry_after: A wait the body asked for, used when no header gives one.
    """
    cls = error_for_status(status)
    if code is not None and code.lower() in CONTENT_FILTER_CODES and status < 500:
        cls = ContentFilterError
    wait = retry_after_seconds(headers)
    if wait is None:
        wait = retry_after
    detail = redact(detail.strip() or "no details given", secrets)
    message = f"{provider} answered HTTP {status}: {detail}. {_advice(cls, key_env)}".strip()
    return cls(message, provider=provider, status_code=status, retry_after=wait)


def event_error(
    *,
    provider: str,
    error_type: str | None,
    detail: str,
    secrets: Iterable[str | None],
    key_env: str,
) -> ProviderError:
    """The Aether error for an error event inside a stream (no HTTP status of its own).

    An unknown type is a `ServerError`: retryable, so a stream that fails before any
    content can still be retried.
    """
    kind = (error_type or "").lower()
    cls: type[ProviderError] = ServerError
    if kind in CONTENT_FILTER_CODES:
        cls = ContentFilterError
    elif "rate_limit" in kind or "quota" in kind or "exhausted" in kind:
        cls = RateLimitError
    elif "authentication" in kind or "permission" in kind:
        cls = AuthenticationError
    elif "invalid_request" in kind or "not_found" in kind or "too_large" in kind:
        cls = BadRequestError
    elif "timeout" in kind:
        cls = RequestTimeoutError
    detail = redact(detail.strip() or "no details given", secrets)
    label = f" ({error_type})" if error_type else ""
    message = f"{provider} sent an error event mid-stream{label}: {detail}. "
    return cls(message + _advice(cls, key_env), provider=provider)


def malformed(provider: str, detail: str) -> MalformedResponseError:
    """A `MalformedResponseError` for a body or stream Aether cannot read."""
    return MalformedResponseError(
        f"{provider} sent a response Aether cannot read: {detail}. This is usually a "
        f"proxy or a server fault; retrying may succeed.",
        provider=provider,
    )


def _described(cause: BaseException) -> str:
    """``cause``'s type and the first message found down its chain.

    httpx wraps socket errors in errors of its own that often say nothing (a reset on
    asyncio is a bare ``ReadError``); the words are on the ``OSError`` underneath.
    """
    for current in _chain(cause):
        text = str(current).strip()
        if text:
            return f"{type(cause).__name__}: {text}"
    return type(cause).__name__


def connection_error(provider: str, cause: BaseException) -> ProviderConnectionError:
    """A `ProviderConnectionError` naming what broke the connection."""
    return ProviderConnectionError(
        f"the connection to {provider} failed ({_described(cause)}). Check the network, "
        f"proxy and base URL; retrying may succeed.",
        provider=provider,
    )


def _http_modules() -> list[Any]:
    return [module for name in ("httpx", "httpx2") if (module := sys.modules.get(name))]


def transport_error(provider: str, error: BaseException) -> ProviderError | None:
    """The Aether error for an httpx or httpx2 timeout or connection failure, else None."""
    for module in _http_modules():
        if isinstance(error, module.TimeoutException):
            return RequestTimeoutError(
                f"{provider} did not answer in time ({type(error).__name__}). Raise the "
                f"provider's timeout= if long answers are expected; retrying may succeed.",
                provider=provider,
            )
        if isinstance(error, module.TransportError):
            return connection_error(provider, error)
    return None
