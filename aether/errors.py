"""The one exception hierarchy of Aether.

Every error Aether raises on purpose derives from `AetherError`. Provider adapters map
their vendor's exceptions to these classes at their own boundary, so retry and the circuit
breaker decide by Aether's classes (the `retryable` attribute), never by a vendor's type.

    AetherError
    ├── ConfigurationError          bad settings; raised eagerly, listing every problem
    │                               (also a ValueError)
    ├── MiddlewareError             a middleware cannot run in the requested mode
    ├── OutputValidationError       a structured answer stayed invalid after every
    │                               re-ask (carries the text, the errors, each attempt)
    ├── ProviderError               a provider call failed (provider, status_code, retry_after)
    │   ├── RateLimitError          429                                  retryable
    │   ├── RequestTimeoutError     408 or a client-side timeout          retryable
    │   ├── ProviderConnectionError the connection failed or broke        retryable
    │   ├── ServerError             5xx                                   retryable
    │   ├── MalformedResponseError  a body or stream that cannot be read  retryable
    │   ├── AuthenticationError     401, 403                              not retryable
    │   └── BadRequestError         400, 404, 409, 413, 422               not retryable
    │       └── ContentFilterError  refused by the provider's safety filter
    │           └── OutputRefusedError  the model refused to give a structured answer
    ├── BudgetExceededError         the client's budget is spent (nothing was sent)
    ├── CircuitOpenError            the breaker is open; carries when it retries
    ├── SharedStateError            shared state (Redis) unreachable, and the feature
    │                               using it fails closed (nothing was sent)
    ├── EventLoopConflictError      one client used by two running event loops at once
    │                               (also a RuntimeError)
    ├── ToolError                   a tool could not be registered or resolved
    │   ├── ToolTimeoutError        a tool ran past its timeout (also a TimeoutError;
    │   │                           the model sees it as a tool result)
    │   ├── ToolArgumentsError      a model's arguments do not fit the tool (sent back to it)
    │   ├── MCPConnectionError      aether.mcp: an MCP server could not be started or
    │   │                           reached, or the connection broke
    │   └── ToolLoopLimitError      the tool loop hit its iteration cap
    ├── SessionError                a session store failed
    │   └── SessionCorruptedError   a stored history cannot be read
    ├── UnsafeURLError              aether.extensions.tools.http: http_get refused an
    │                               address (also a PermissionError)
    ├── RedisError                  aether.extensions.redis: talking to Redis failed
    │   ├── RedisConnectionError    could not connect, or the connection broke
    │   │   └── RedisTimeoutError   no answer in time
    │   ├── RedisReplyError         the server answered with an error
    │   └── RedisNotOpenError       the coredis client was used before async with
    └── FakeScriptExhaustedError    aether.extensions.llm.fake: a test asked for more
                                    answers than it scripted (also a RuntimeError)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AetherError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentFilterError",
    "EventLoopConflictError",
    "MalformedResponseError",
    "MiddlewareError",
    "OutputRefusedError",
    "OutputValidationError",
    "ProviderConnectionError",
    "ProviderError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "SessionCorruptedError",
    "SessionError",
    "SharedStateError",
    "ToolArgumentsError",
    "ToolError",
    "ToolLoopLimitError",
    "error_for_status",
]


class AetherError(Exception):
    """Base class of every error Aether raises on purpose."""

    retryable: bool = False
    """Whether retrying the same request may succeed. Retry reads this, nothing else."""


class ConfigurationError(AetherError, ValueError):
    """Settings are missing or invalid. The message lists every problem found."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]


class MiddlewareError(AetherError):
    """A middleware cannot run in the requested mode, or a stack is badly composed."""


class ProviderError(AetherError):
    """A call to an LLM provider failed.

    Attributes:
        provider: The provider's registered name (``"openai"``, ``"fake"``...), if known.
        status_code: The HTTP status the server answered with, if there was one.
        retry_after: Seconds the server asked the client to wait, if it sent a header.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.provider:
            details.append(f"provider={self.provider}")
        if self.status_code is not None:
            details.append(f"status={self.status_code}")
        if self.retry_after is not None:
            details.append(f"retry_after={self.retry_after:g}s")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_provider_error,
            (type(self), self.message, self.provider, self.status_code, self.retry_after),
        )


def _rebuild_provider_error(
    cls: type[ProviderError],
    message: str,
    provider: str | None,
    status_code: int | None,
    retry_after: float | None,
) -> ProviderError:
    return cls(message, provider=provider, status_code=status_code, retry_after=retry_after)


class RateLimitError(ProviderError):
    """The provider answered 429: too many requests or tokens."""

    retryable = True


class RequestTimeoutError(ProviderError):
    """The request timed out (HTTP 408, or no answer within the client's timeout)."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The connection to the provider failed or broke."""

    retryable = True


class ServerError(ProviderError):
    """The provider answered with a 5xx status."""

    retryable = True


class MalformedResponseError(ProviderError):
    """The provider sent a body or a stream event that cannot be parsed."""

    retryable = True


class AuthenticationError(ProviderError):
    """The provider refused the credentials (401) or the permission (403)."""


class BadRequestError(ProviderError):
    """The provider refused the request as invalid (400, 404, 409, 413, 422)."""


class ContentFilterError(BadRequestError):
    """The provider's safety filter refused the prompt or the answer."""


class OutputRefusedError(ContentFilterError):
    """The model refused to give the structured answer (OpenAI's ``refusal``, a content
    filter's stop): not a validation failure, so it is not asked again.

    Attributes:
        refusal: What the model said instead of the answer (may be empty).
        response: The refusing response, when the call was not streamed.
    """

    def __init__(
        self,
        message: str,
        *,
        refusal: str = "",
        response: Any = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.refusal = refusal
        self.response = response

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_refusal, (self.message, self.refusal, self.provider))


def _rebuild_refusal(message: str, refusal: str, provider: str | None) -> OutputRefusedError:
    return OutputRefusedError(message, refusal=refusal, provider=provider)


class OutputValidationError(AetherError):
    """A structured answer did not validate, and every re-ask allowed failed too.

    Each attempt was billed and counted like any call. Nothing is lost: the last answer's
    text, its errors and every attempt are kept here.

    Attributes:
        text: The last answer's raw text.
        errors: The last answer's validation errors (dicts with ``loc``, ``msg``,
            ``type`` and ``input``, as pydantic gives them).
        attempts: Every attempt, oldest first (`OutputAttempt`: its text, errors, model,
            tokens and cost).
    """

    def __init__(
        self,
        message: str,
        *,
        text: str,
        errors: tuple[dict[str, Any], ...],
        attempts: tuple[Any, ...],
    ) -> None:
        super().__init__(message)
        self.text = text
        self.errors = errors
        self.attempts = attempts

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_invalid_output, (str(self), self.text, self.errors, self.attempts))


def _rebuild_invalid_output(
    message: str, text: str, errors: tuple[dict[str, Any], ...], attempts: tuple[Any, ...]
) -> OutputValidationError:
    return OutputValidationError(message, text=text, errors=errors, attempts=attempts)


class BudgetExceededError(AetherError):
    """The client's spending budget is used up; the request was not sent.

    Attributes:
        budget_usd: The budget the client was given.
        spent_usd: What the client had spent when the call was refused.
    """

    def __init__(self, message: str, *, budget_usd: float, spent_usd: float) -> None:
        super().__init__(message)
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd


class CircuitOpenError(AetherError):
    """The circuit breaker is open: the provider was not called.

    Attributes:
        key: The breaker's key (provider and model).
        retry_at: The `anyio.current_time()` at which a probe will be let through.
        retry_after: Seconds from when the error was raised until then.
    """

    def __init__(self, message: str, *, key: str, retry_at: float, retry_after: float) -> None:
        super().__init__(message)
        self.key = key
        self.retry_at = retry_at
        self.retry_after = retry_after


class EventLoopConflictError(AetherError, RuntimeError):
    """A client, provider or session is in use by two running event loops at once.

    A client moves between event loops that run one after the other; two at the same
    time (two threads) need a client each, or `aether.SyncAether`.
    """


class SharedStateError(AetherError):
    """A feature sharing its state through Redis could not reach it, and fails closed.

    Raised by a rate limit, budget or circuit breaker backend set to fail closed
    (``fail_open=False``) while Redis is unreachable; the provider was not called.

    Attributes:
        feature: ``"rate_limit"``, ``"budget"`` or ``"circuit_breaker"``.
    """

    def __init__(self, message: str, *, feature: str) -> None:
        super().__init__(message)
        self.feature = feature


class ToolError(AetherError):
    """A tool could not be registered, resolved or described."""


class ToolArgumentsError(ToolError):
    """A model's arguments for a tool are malformed JSON or do not fit its signature.

    The tool loop does not raise it: it sends the message back to the model as the tool's
    result, so the model can correct its call.
    """


class ToolLoopLimitError(ToolError):
    """The tool loop reached its iteration cap without a final answer.

    Attributes:
        messages: The whole conversation so far, tool calls and results included.
        iterations: How many model calls the loop made.
    """

    def __init__(self, message: str, *, messages: tuple[Any, ...], iterations: int) -> None:
        super().__init__(message)
        self.messages = messages
        self.iterations = iterations


class SessionError(AetherError):
    """A session store failed to load, save or delete a history."""


class SessionCorruptedError(SessionError):
    """A stored history cannot be read. It is left untouched, never overwritten.

    Attributes:
        session_id: The session whose history it is.
        record: Which stored message could not be read (0 is the oldest), when the
            store keeps one record per message; ``None`` otherwise.
    """

    def __init__(self, message: str, *, session_id: str, record: int | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.record = record


_STATUS_CLASSES: dict[int, type[ProviderError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: BadRequestError,
    408: RequestTimeoutError,
    409: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(status_code: int) -> type[ProviderError]:
    """Return the Aether error class for an HTTP status code.

    5xx maps to `ServerError`; unknown 4xx codes are `BadRequestError`; anything else is a
    plain, non-retryable `ProviderError`.
    """
    if status_code in _STATUS_CLASSES:
        return _STATUS_CLASSES[status_code]
    if 500 <= status_code < 600:
        return ServerError
    if 400 <= status_code < 500:
        return BadRequestError
    return ProviderError
