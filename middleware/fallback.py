"""Fallback: when the first provider fails before producing anything, ask a second one.

``FallbackMiddleware(backup)`` sends the request inward as usual; if that fails with an
error worth falling back on, it sends the same request to ``backup`` instead. ``backup``
is anything with ``complete`` and ``stream``: a provider, or better another client's
pipeline (``Aether(config=...).pipeline``), which brings that client's own retry, breaker,
cost tracking and events (its spend then shows in that client's ``usage``).

The safe point: in a stream, the switch happens only while nothing has reached the
caller. Once a chunk carrying anything (text, a tool call, a tool result, the final
chunk) has been yielded, an error propagates unchanged, because the caller already holds
part of the first provider's answer and a second answer would duplicate or contradict
it. Empty text chunks before the first content (role-only deltas) are dropped, so a
provider that sends one and then an error is still switched away from.

What counts as a failure worth a fallback (``fallback_on``): by default every retryable
provider error (rate limit, timeout, connection, 5xx, malformed answer) and an open
circuit breaker. A bad request, a content filter refusal or a rejected key is not
retried elsewhere by default: the second provider would most likely refuse it too, and a
wrong key should be fixed, not hidden. Cancellation is never caught.

Placed first in ``Aether(middleware=[...])``, it sits outside the default stack, so the
first provider has had its retries (and the breaker its say) before the fallback fires.
When it fires, ``request.context["fallback_from"]`` holds the first error's class name;
if the backup fails too, its error propagates with a note naming the first error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aether.errors import CircuitOpenError
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream
from aether.pipeline import CallNext, Pipeline, StreamNext

__all__ = ["FallbackMiddleware", "is_provider_outage"]


def is_provider_outage(error: Exception) -> bool:
    """The default ``fallback_on``: a retryable error or an open circuit breaker."""
    return bool(getattr(error, "retryable", False)) or isinstance(error, CircuitOpenError)


def _carries_something(chunk: StreamChunk) -> bool:
    return chunk.kind != "text" or bool(chunk.text) or chunk.is_final


class FallbackMiddleware:
    """Sends a request to ``backup`` when the chain inside fails before any content.

    Args:
        backup: A provider or a pipeline (anything with ``complete``; ``stream`` too, or
            its answer is streamed as one chunk).
        model: The model to ask ``backup`` for; ``None`` lets it use its default (the
            first provider's model name rarely means anything to another vendor).
        fallback_on: Decides from the first error whether to fall back (default
            `is_provider_outage`).
    """

    name = "Fallback"

    __slots__ = ("_backup", "_fallback_on", "model")

    def __init__(
        self,
        backup: Any,
        *,
        model: str | None = None,
        fallback_on: Callable[[Exception], bool] = is_provider_outage,
    ) -> None:
        # An empty pipeline gives every backup a stream mode, even a complete-only one.
        self._backup = backup if isinstance(backup, Pipeline) else Pipeline([], backup)
        self.model = model
        self._fallback_on = fallback_on

    def _backup_request(self, request: LLMRequest, error: Exception) -> LLMRequest:
        request.context["fallback_from"] = type(error).__name__
        return request.model_copy(update={"model": self.model})

    @staticmethod
    def _note(error: Exception, failure: Exception) -> None:
        error.add_note(
            f"raised by the fallback provider, after the first one failed with "
            f"{type(failure).__name__}: {failure}"
        )

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        try:
            return await call_next(request)
        except Exception as error:
            if not self._fallback_on(error):
                raise
            failure = error
        try:
            return await self._backup.complete(self._backup_request(request, failure))
        except Exception as error:
            self._note(error, failure)
            raise

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        started = False
        first = call_next(request)
        try:
            async for chunk in first:
                if not started:
                    if not _carries_something(chunk):
                        continue
                    started = True
                yield chunk
            return
        except Exception as error:
            if started or not self._fallback_on(error):
                raise
            failure = error
        finally:
            await aclose_stream(first)
        # Nothing reached the caller and the first stream is closed: switch over.
        backup = self._backup.stream(self._backup_request(request, failure))
        try:
            async for chunk in backup:
                yield chunk
        except Exception as error:
            self._note(error, failure)
            raise
        finally:
            await aclose_stream(backup)
