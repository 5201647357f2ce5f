"""Turning a vendor's failures into Aether's error classes, at the adapter boundary.

Each adapter catches its SDK's exceptions and calls these helpers, so retry and the
circuit breaker only ever see `aether.errors` classes. Messages say what the server
said and what to do next; the API key is scrubbed from anything a server echoes back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
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
    "ErrorDetail",
    "classify",
    "connection_error",
    "error_detail",
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


def _sentence(text: str) -> str:
    """``text`` as a sentence: stripped, ending in one stop (servers often end in one)."""
    text = text.strip() or "no details given"
    return text if text.endswith((".", "!", "?", "…")) else text + "."


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
    text = redact(_sentence(detail), secrets)
    message = f"{provider} answered HTTP {status}: {text} {_advice(cls, key_env)}".strip()
    return cls(message, provider=provider, status_code=status, retry_after=wait)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """What a vendor's error body says: the message, and every signal of what failed.

    Attributes:
        message: The server's message (with any upstream detail it carried).
        code: The vendor's error code as text (``tool_use_failed``, ``INVALID_ARGUMENT``).
        type: The vendor's error type (``invalid_request_error``, ``overloaded_error``).
        status: An HTTP status the body declares (``"code": 400``, ``"status_code": 429``).
    """

    message: str
    code: str | None = None
    type: str | None = None
    status: int | None = None

    @property
    def label(self) -> str:
        """The signals, for a message: ``invalid_request_error, tool_use_failed, 400``."""
        parts = [part for part in (self.type, self.code) if part]
        if self.status is not None:
            parts.append(str(self.status))
        return ", ".join(dict.fromkeys(parts))


_UPSTREAM_LIMIT = 500
"""Characters of an upstream error (OpenRouter's ``metadata.raw``) kept in a message."""


def _http_status(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
        return value
    return None


def _upstream(metadata: object) -> str | None:
    """The upstream provider's own error, which gateways such as OpenRouter pass on."""
    if not isinstance(metadata, dict) or metadata.get("raw") in (None, ""):
        return None
    raw = metadata["raw"]
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > _UPSTREAM_LIMIT:
        text = text[: _UPSTREAM_LIMIT - 3] + "..."
    name = metadata.get("provider_name")
    who = name if isinstance(name, str) and name else "The upstream provider"
    return f"{who} said: {text}"


def error_detail(body: object, fallback: str) -> ErrorDetail:
    """The `ErrorDetail` of an error body in any of the shapes vendors use.

    Reads ``{"error": {...}}`` or the inner object itself: ``message``, ``type``, a
    textual ``code`` (or Google's ``status`` name), and an HTTP status from a numeric
    ``code`` or ``status_code``. A gateway's upstream detail (``metadata.raw``) joins the
    message. A plain string body is the message.
    """
    if isinstance(body, str) and body:
        return ErrorDetail(body)
    if not isinstance(body, dict):
        return ErrorDetail(fallback)
    inner = body.get("error", body)
    if isinstance(inner, str) and inner:
        return ErrorDetail(inner)
    if not isinstance(inner, dict):
        return ErrorDetail(fallback)
    message = inner.get("message")
    message = message if isinstance(message, str) and message.strip() else fallback
    upstream = _upstream(inner.get("metadata"))
    if upstream and upstream not in message:
        message = f"{_sentence(message)} {upstream}"
    code = inner.get("code")
    status = _http_status(code) or _http_status(inner.get("status_code"))
    named = inner.get("status")  # Google: "INVALID_ARGUMENT" beside a numeric code
    text_code = code if isinstance(code, str) and not code.isdigit() else None
    if text_code is None and isinstance(named, str) and named:
        text_code = named
    status = status or _http_status(named)
    kind = inner.get("type")
    return ErrorDetail(
        message,
        code=text_code,
        type=kind if isinstance(kind, str) and kind else None,
        status=status,
    )


_KNOWN: dict[str, type[ProviderError]] = {
    **dict.fromkeys(CONTENT_FILTER_CODES, ContentFilterError),
    **dict.fromkeys(
        ("rate_limit_exceeded", "rate_limit_error", "rate_limited", "too_many_requests",
         "resource_exhausted", "insufficient_quota", "quota_exceeded"),
        RateLimitError,
    ),
    **dict.fromkeys(
        ("invalid_api_key", "authentication_error", "permission_error", "permission_denied",
         "unauthenticated", "unauthorized", "forbidden"),
        AuthenticationError,
    ),
    **dict.fromkeys(
        ("invalid_request_error", "invalid_argument", "failed_precondition", "out_of_range",
         "not_found", "not_found_error", "model_not_found", "context_length_exceeded",
         "request_too_large", "tool_use_failed", "invalid_prompt", "bad_request"),
        BadRequestError,
    ),
    **dict.fromkeys(
        ("timeout", "timeout_error", "deadline_exceeded", "request_timeout"),
        RequestTimeoutError,
    ),
    **dict.fromkeys(
        ("server_error", "api_error", "overloaded_error", "internal", "internal_error",
         "internal_server_error", "unavailable", "service_unavailable", "bad_gateway"),
        ServerError,
    ),
}  # fmt: skip
"""Error codes and types whose meaning is known, lower-cased."""


def _by_words(kind: str) -> type[ProviderError] | None:
    if "rate_limit" in kind or "quota" in kind or "exhausted" in kind:
        return RateLimitError
    if "authentication" in kind or "permission" in kind:
        return AuthenticationError
    if "invalid_request" in kind or "not_found" in kind or "too_large" in kind:
        return BadRequestError
    if "timeout" in kind:
        return RequestTimeoutError
    return None


def classify(detail: ErrorDetail) -> type[ProviderError]:
    """The Aether class for an error with no HTTP status of its own (an event in a stream).

    The most specific signal wins: a known code, then the HTTP status the body declares
    (a content-filter code still makes a 4xx a `ContentFilterError`), then a known type,
    then words in the code or type. An error nothing identifies is a `ServerError`:
    retryable, so a stream that fails before any content can still be retried.
    """
    code = (detail.code or "").lower()
    kind = (detail.type or "").lower()
    found = _KNOWN.get(code)
    if found is ContentFilterError and detail.status is not None and detail.status >= 500:
        found = None
    if found is not None:
        return found
    if detail.status is not None:
        return error_for_status(detail.status)
    return _KNOWN.get(kind) or _by_words(code) or _by_words(kind) or ServerError


def event_error(
    *,
    provider: str,
    detail: str | ErrorDetail,
    secrets: Iterable[str | None],
    key_env: str,
    error_type: str | None = None,
) -> ProviderError:
    """The Aether error for an error event inside a stream (no HTTP status of its own).

    Args:
        provider: The provider's name.
        detail: What the event said: an `ErrorDetail` (classified by `classify`), or
            just its message, with ``error_type`` as its only signal.
        secrets: Values to scrub from the message (the API key).
        key_env: The variable holding the key, named in the advice for auth errors.
        error_type: The vendor's error type or code, when ``detail`` is a message.
    """
    if isinstance(detail, str):
        detail = ErrorDetail(detail, type=error_type)
    cls = classify(detail)
    text = redact(_sentence(detail.message), secrets)
    label = f" ({detail.label})" if detail.label else ""
    message = f"{provider} sent an error event mid-stream{label}: {text} "
    return cls((message + _advice(cls, key_env)).strip(), provider=provider)


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
