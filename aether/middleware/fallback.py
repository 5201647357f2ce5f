"""Fallback: when a provider fails before producing anything, ask the next one in a chain.

``FallbackMiddleware([backup, second_backup])`` sends the request inward as usual; if
that fails with an outage, it sends the same request to ``backup``, then to
``second_backup``, and so on. Each backup is a provider or a pipeline: `default_stack`
(``fallback=[...]``) wraps each provider in a breaker, retry, the rate limiter and
events of its own, keyed by its name.

The safe point: in a stream, the switch happens only while nothing has reached the
caller. Once a chunk carrying anything (text, a tool call, a tool result, the final
chunk) has been yielded, an error propagates unchanged: the caller holds part of one
answer, and a second would duplicate or contradict it. Empty text chunks before the
first content (role-only deltas) are held back, so a provider that sends one and then
an error is still switched away from.

The breaker is consulted first: an open circuit raises `CircuitOpenError` before
anything is sent, so an open provider is skipped at once, and with a shared breaker
backend it is skipped by every process. What counts as an outage (``fallback_on``): a
retryable provider error (rate limit, timeout, connection, 5xx, malformed answer) or an
open circuit. A bad request, a content filter refusal or a rejected key are not sent
elsewhere: the next provider would likely refuse them too, and a wrong key should be
fixed, not hidden. Cancellation is never caught.

In the default stack it sits below cost tracking and above each provider's breaker, so
cost tracking and budgets see one model call whichever provider answered, and each
provider keeps its own circuit. ``request.context["fallback_from"]`` lists the class
names of the errors that made it switch; if every provider fails, the last error
propagates with a note naming the earlier ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from aether.errors import CircuitOpenError, ConfigurationError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.pipeline import CallNext, Pipeline, StreamNext

__all__ = ["FallbackMiddleware", "carries_content", "is_provider_outage"]


def is_provider_outage(error: BaseException) -> bool:
    """The default ``fallback_on``: a retryable error or an open circuit breaker."""
    return bool(getattr(error, "retryable", False)) or isinstance(error, CircuitOpenError)


def carries_content(chunk: StreamChunk) -> bool:
    """Whether a chunk commits the stream to its provider (anything but an empty delta)."""
    return chunk.kind != "text" or bool(chunk.text) or chunk.is_final


def as_pipeline(target: Any) -> Pipeline:
    """A provider or pipeline as a pipeline (every backup gets a stream mode)."""
    return target if isinstance(target, Pipeline) else Pipeline([], target)


class FallbackMiddleware:
    """Sends a request down a chain of backups while each fails before any content.

    Args:
        backups: Providers or pipelines, tried in order after the chain inside.
        models: The model to ask each backup for, by position; ``None`` (or a shorter
            list) lets a backup use its default (the first provider's model name rarely
            means anything to another vendor).
        fallback_on: Decides from an error whether to try the next (default
            `is_provider_outage`).

    Raises:
        ConfigurationError: If there is no backup.
    """

    name = "Fallback"

    __slots__ = ("_backups", "_fallback_on", "_models")

    def __init__(
        self,
        backups: Sequence[Any],
        *,
        models: Sequence[str | None] = (),
        fallback_on: Callable[[BaseException], bool] = is_provider_outage,
    ) -> None:
        if isinstance(backups, Pipeline) or not isinstance(backups, Sequence) or not backups:
            raise ConfigurationError(
                "FallbackMiddleware takes a non-empty list of backups: "
                "FallbackMiddleware([backup_provider, ...])"
            )
        self._backups = [as_pipeline(backup) for backup in backups]
        self._models = list(models) + [None] * (len(backups) - len(models))
        self._fallback_on = fallback_on

    @property
    def backups(self) -> list[Pipeline]:
        """The backups, in the order they are tried."""
        return list(self._backups)

    def _next_request(self, request: LLMRequest, position: int, error: Exception) -> LLMRequest:
        request.context.setdefault("fallback_from", []).append(type(error).__name__)
        return request.model_copy(update={"model": self._models[position]})

    @staticmethod
    def _note(error: Exception, failures: list[Exception]) -> None:
        earlier = "; ".join(f"{type(failure).__name__}: {failure}" for failure in failures)
        error.add_note(f"raised by fallback {len(failures)}, after: {earlier}")

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request`` inward, then to each backup in turn while they fail."""
        failures: list[Exception] = []
        try:
            return await call_next(request)
        except Exception as error:
            if not self._fallback_on(error):
                raise
            failures.append(error)
        for position, backup in enumerate(self._backups):
            try:
                return await backup.complete(self._next_request(request, position, failures[-1]))
            except Exception as error:
                last = position == len(self._backups) - 1
                if last or not self._fallback_on(error):
                    self._note(error, failures)
                    raise
                failures.append(error)
        raise AssertionError("unreachable")  # pragma: no cover

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        """Stream from the first provider that produces content (see the module docstring)."""
        failures: list[Exception] = []
        for position in range(-1, len(self._backups)):
            if position < 0:
                inner = call_next(request)
            else:
                next_request = self._next_request(request, position, failures[-1])
                inner = self._backups[position].stream(next_request)
            started = False
            try:
                async for chunk in inner:
                    if not started:
                        if not carries_content(chunk):
                            continue
                        started = True
                    yield chunk
                return
            except Exception as error:
                last = position == len(self._backups) - 1
                if started or last or not self._fallback_on(error):
                    if failures:
                        self._note(error, failures)
                    raise
                failures.append(error)
            finally:
                await aclose_stream(inner)

    def __repr__(self) -> str:
        return f"FallbackMiddleware(backups={len(self._backups)})"
