"""`SyncAether`: the same client without ``await``, for scripts, notebooks and sync apps.

::

    from aether import SyncAether

    with SyncAether() as client:  # the same arguments as Aether(...)
        print(client.ask("What is the meaning of life?"))
        for delta in client.stream_text("Tell me a story"):
            print(delta, end="", flush=True)
        print(client.usage.total_cost_usd)

The async `Aether` client runs on an event loop of its own in a worker thread (an anyio
blocking portal, on asyncio), started on first use and stopped by `SyncAether.close`.
Each call is handed to that loop and the calling thread waits for the answer, so a
``SyncAether`` works where an event loop already runs in the calling thread (Jupyter,
an async framework calling sync code) and from several threads at once (their calls run
concurrently on the one loop). Streams are plain iterators: each step asks the loop for
the next chunk, so nothing is read ahead of the consumer.

Ctrl-C (``KeyboardInterrupt``) while waiting cancels the call or the stream on the loop,
waits for its clean-up (the provider's HTTP stream is closed, a session stores nothing),
then propagates. Event subscribers run on the worker thread.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, Unpack, cast, overload

from aether._loop_thread import LoopThread
from aether.client import Aether, CallOptions, Prompt
from aether.events import EventBus
from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk
from aether.memory.session import Session, UserContent
from aether.middleware.circuit_breaker import CircuitBreakerMiddleware
from aether.pipeline import Pipeline
from aether.usage import Usage

if TYPE_CHECKING:
    from aether.middleware.cache import CacheMiddleware

__all__ = ["SyncAether", "SyncSession"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


def _same_arguments_as(
    source: Callable[Concatenate[Any, _P], Any],
) -> Callable[[Callable[..., _R]], Callable[Concatenate[Any, _P], _R]]:
    """Give a delegating method ``source``'s signature, for type checkers and ``help()``."""

    def apply(target: Callable[..., _R]) -> Callable[Concatenate[Any, _P], _R]:
        target.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
        return cast(Callable[Concatenate[Any, _P], _R], target)

    return apply


class SyncSession:
    """A `Session` without ``await``: ``client.session(id)`` on a `SyncAether`.

    Attributes:
        session: The async `Session` underneath.
    """

    __slots__ = ("_loop", "session")

    def __init__(self, session: Session, loop: LoopThread) -> None:
        self.session = session
        self._loop = loop

    @property
    def session_id(self) -> str:
        """The id the history is stored under."""
        return self.session.session_id

    @overload
    def ask(
        self, prompt: UserContent, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> str: ...

    @overload
    def ask(
        self, prompt: UserContent, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> _T: ...

    @overload
    def ask(
        self, prompt: UserContent, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> dict[str, Any]: ...

    @overload
    def ask(
        self, prompt: UserContent, *, output_type: object, **options: Unpack[CallOptions]
    ) -> Any: ...

    def ask(
        self, prompt: UserContent, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> Any:
        """Send ``prompt`` with the history; store the turn; return the final text (or,
        with ``output_type=``, the validated answer)."""
        return self._loop.run(
            functools.partial(self.session.ask, prompt, output_type=output_type, **options)
        )

    @overload
    def complete(
        self, prompt: UserContent, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> LLMResponse: ...

    @overload
    def complete(
        self, prompt: UserContent, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> LLMResponse[_T]: ...

    @overload
    def complete(
        self, prompt: UserContent, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> LLMResponse[dict[str, Any]]: ...

    @overload
    def complete(
        self, prompt: UserContent, *, output_type: object, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]: ...

    def complete(
        self, prompt: UserContent, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]:
        """Send ``prompt`` with the history; store the turn; return the whole response."""
        return self._loop.run(
            functools.partial(self.session.complete, prompt, output_type=output_type, **options)
        )

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk]: ...

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[_T]]: ...

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[dict[str, Any]]]: ...

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: object, **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[Any]]: ...

    def stream(
        self, prompt: UserContent, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[Any]]:
        """Stream the answer's chunks; the turn is stored when the stream completes."""
        return self._loop.iterate(self.session.stream(prompt, output_type=output_type, **options))

    def stream_text(self, prompt: str, **options: Unpack[CallOptions]) -> Iterator[str]:
        """Stream the answer's text deltas; the turn is stored when the stream completes."""
        return self._loop.iterate(self.session.stream_text(prompt, **options))

    def history(self) -> list[Message]:
        """The stored history, oldest first."""
        return self._loop.run(self.session.history)

    def clear(self) -> None:
        """Forget the conversation."""
        self._loop.run(self.session.clear)

    def __repr__(self) -> str:
        return f"Sync{self.session!r}"


class SyncAether:
    """An `Aether` client you call without ``await``; it takes the same arguments.

    Use it with ``with`` (or call `close`) to release its connections and its worker
    thread. The methods mirror `Aether`'s: `ask`, `complete`, `stream` and `stream_text`
    (plain iterators), `session`, `request`, `on`, and the ``usage``, ``pipeline``,
    ``cache``, ``circuit_breaker`` and ``events`` attributes. ``aether`` is the async
    client underneath, for anything else.

    Raises:
        ConfigurationError: As `Aether` does, at once, in the calling thread.
    """

    @_same_arguments_as(Aether.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.aether: Aether = Aether(*args, **kwargs)
        self._loop = LoopThread()
        # A client dropped without close() still stops its thread (and closes its
        # connections) when collected, or at interpreter exit.
        self._finalizer = weakref.finalize(self, self._loop.stop, self.aether)

    # -- what the async client knows -------------------------------------------------------

    @property
    def usage(self) -> Usage:
        """Tokens and cost counted so far."""
        return self.aether.usage

    @property
    def pipeline(self) -> Pipeline:
        """The composed stack; its repr shows the order."""
        return self.aether.pipeline

    @property
    def cache(self) -> CacheMiddleware | None:
        """The stack's response cache (``None`` without one)."""
        return self.aether.cache

    @property
    def circuit_breaker(self) -> CircuitBreakerMiddleware | None:
        """The stack's circuit breaker (``None`` without one)."""
        return self.aether.circuit_breaker

    @property
    def events(self) -> EventBus:
        """The event bus; subscribers run on the client's worker thread."""
        return self.aether.events

    @property
    def provider(self) -> Any:
        """The provider at the bottom of the stack."""
        return self.aether.provider

    @property
    def default_model(self) -> str | None:
        """The model used when a call names none."""
        return self.aether.default_model

    def on(self, name: str, callback: Any = None) -> Any:
        """Subscribe a callback to an event (runs on the worker thread); a decorator too."""
        return self.aether.on(name, callback)

    def request(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> LLMRequest:
        """The `LLMRequest` a call with these arguments would send."""
        return self.aether.request(prompt, output_type=output_type, **options)

    # -- calls ------------------------------------------------------------------------------

    @overload
    def complete(
        self, prompt: Prompt, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> LLMResponse: ...

    @overload
    def complete(
        self, prompt: Prompt, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> LLMResponse[_T]: ...

    @overload
    def complete(
        self, prompt: Prompt, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> LLMResponse[dict[str, Any]]: ...

    @overload
    def complete(
        self, prompt: Prompt, *, output_type: object, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]: ...

    def complete(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]:
        """Send one request through the pipeline and return the whole response."""
        return self._loop.run(
            functools.partial(self.aether.complete, prompt, output_type=output_type, **options)
        )

    @overload
    def ask(
        self, prompt: Prompt, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> str: ...

    @overload
    def ask(
        self, prompt: Prompt, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> _T: ...

    @overload
    def ask(
        self, prompt: Prompt, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> dict[str, Any]: ...

    @overload
    def ask(
        self, prompt: Prompt, *, output_type: object, **options: Unpack[CallOptions]
    ) -> Any: ...

    def ask(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> Any:
        """Send one request and return the assistant's final text (or, with
        ``output_type=``, the validated answer)."""
        return self._loop.run(
            functools.partial(self.aether.ask, prompt, output_type=output_type, **options)
        )

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk]: ...

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[_T]]: ...

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[dict[str, Any]]]: ...

    @overload
    def stream(
        self, prompt: Prompt, *, output_type: object, **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[Any]]: ...

    def stream(
        self, prompt: Prompt, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> Iterator[StreamChunk[Any]]:
        """Stream the answer as `StreamChunk` objects, ending with a final chunk.

        A plain iterator: stopping early (``break``, an error, Ctrl-C) closes the
        provider's stream once the iterator is closed, which CPython does as soon as the
        loop drops it; ``contextlib.closing(...)`` makes that point explicit.
        """
        return self._loop.iterate(self.aether.stream(prompt, output_type=output_type, **options))

    def stream_text(self, prompt: Prompt, **options: Unpack[CallOptions]) -> Iterator[str]:
        """Stream only the text deltas of the answer."""
        return self._loop.iterate(self.aether.stream_text(prompt, **options))

    @_same_arguments_as(Aether.session)
    def session(self, *args: Any, **kwargs: Any) -> SyncSession:
        """The conversation stored under ``session_id`` (the same arguments as `Aether`)."""
        return SyncSession(self.aether.session(*args, **kwargs), self._loop)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the provider's connections and stop the worker thread. Idempotent."""
        self._finalizer()

    def __enter__(self) -> SyncAether:
        """Start the toolsets given to ``tools=`` (an MCP server's process, say)."""
        if any(hasattr(item, "current_tools") for item in self.aether.tools):
            self._loop.enter(self.aether)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sync{self.aether!r}"
