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
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Final, ParamSpec, TypeVar, Unpack, cast

import anyio

from aether.client import Aether, CallOptions, Prompt
from aether.events import EventBus
from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk
from aether.memory.session import Session
from aether.middleware.cache import CacheMiddleware
from aether.middleware.circuit_breaker import CircuitBreakerMiddleware
from aether.pipeline import Pipeline
from aether.usage import Usage

if TYPE_CHECKING:  # anyio.from_thread is imported on first use: `import aether` stays light
    from concurrent.futures import Future

    from anyio.from_thread import BlockingPortal

__all__ = ["SyncAether", "SyncSession"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")
_END: Final = object()

_CLEANUP_WAIT: Final = 10.0
"""Seconds an interrupted call waits for its task's clean-up (itself bounded at 5 s)."""


def _same_arguments_as(
    source: Callable[Concatenate[Any, _P], Any],
) -> Callable[[Callable[..., _R]], Callable[Concatenate[Any, _P], _R]]:
    """Give a delegating method ``source``'s signature, for type checkers and ``help()``."""

    def apply(target: Callable[..., _R]) -> Callable[Concatenate[Any, _P], _R]:
        target.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
        return cast(Callable[Concatenate[Any, _P], _R], target)

    return apply


class _Stepper:
    """Steps an async iterator on the loop, and closes it even while a step is running.

    A Ctrl-C can land anywhere in the waiting thread, even while a step is being handed
    to the loop, leaving the step running with no future to cancel. `close` cancels the
    running step (if any), waits for it, then closes the iterator.
    """

    __slots__ = ("_done", "_scope", "_stream")

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self._stream = stream
        self._scope: anyio.CancelScope | None = None
        self._done: anyio.Event | None = None

    async def step(self) -> Any:
        # Not `anext(stream, default)`: on Python 3.11 a cancellation thrown into that
        # wrapper can leave the generator marked as running, so it could not be closed.
        self._done = anyio.Event()
        try:
            with anyio.CancelScope() as self._scope:
                return await self._stream.__anext__()
            return _END  # cancelled by `close`
        except StopAsyncIteration:
            return _END
        finally:
            self._scope = None
            self._done.set()

    async def close(self) -> None:
        if self._scope is not None and self._done is not None:
            self._scope.cancel()
            await self._done.wait()
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


class _LoopThread:
    """An event loop in a worker thread, started on first use, and calls into it."""

    __slots__ = ("_closed", "_context", "_entered", "_lock", "_portal", "_starter")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._context: AbstractContextManager[BlockingPortal] | None = None
        self._starter: threading.Thread | None = None
        self._closed = False
        self._entered: list[AbstractContextManager[Any]] = []

    @property
    def running(self) -> bool:
        return self._portal is not None and not self._closed

    def _start(self) -> None:
        from anyio.from_thread import start_blocking_portal

        context = start_blocking_portal("asyncio", name="aether-sync")
        self._portal = context.__enter__()
        self._context = context

    def _get_portal(self) -> BlockingPortal:
        with self._lock:
            if self._closed:
                raise RuntimeError("this SyncAether is closed; make a new one")
            if self._starter is None:
                # Started from a thread of its own: a Ctrl-C while anyio starts the loop
                # would leave anyio waiting for a loop it never stops. Interrupted here,
                # the caller stops waiting and the loop still starts, for the next call.
                self._starter = threading.Thread(target=self._start, name="aether-sync-start")
                self._starter.start()
            starter = self._starter
        starter.join()
        if self._portal is None:
            raise RuntimeError("the SyncAether worker thread's event loop did not start")
        return self._portal

    def run(self, function: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run ``function(*args)`` on the loop and wait; Ctrl-C cancels it there first."""
        finished = threading.Event()

        async def task() -> _T:
            try:
                return await function(*args)
            finally:
                finished.set()

        future: Future[_T] = self._get_portal().start_task_soon(task)
        try:
            return future.result()
        except BaseException:
            # Interrupted while waiting (Ctrl-C): cancel the task and let it clean up
            # (close its HTTP stream, release its session) before giving up the wait.
            if future.cancel():
                finished.wait(_CLEANUP_WAIT)
            raise

    def enter(self, context: Any) -> None:
        """Enter an async context manager on the loop, in a task of its own until `stop`.

        (A client's toolsets: their connections belong to the task that started them.)
        """
        wrapped = self._get_portal().wrap_async_context_manager(context)
        wrapped.__enter__()
        self._entered.append(wrapped)

    def iterate(self, stream: AsyncIterator[_T]) -> Iterator[_T]:
        """Iterate ``stream`` one item per step on the loop; closing it closes ``stream``."""
        stepper = _Stepper(stream)
        try:
            while True:
                item = self.run(stepper.step)
                if item is _END:
                    return
                yield cast(_T, item)
        finally:
            if self.running:
                self.run(stepper.close)

    def stop(self, client: Aether | None = None) -> None:
        """Close ``client`` on the loop (if it ever ran), then stop the loop's thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            starter = self._starter
        if starter is not None:
            starter.join()
        portal, context = self._portal, self._context
        if portal is None or context is None:
            return
        try:
            while self._entered:
                self._entered.pop().__exit__(None, None, None)
            if client is not None:
                portal.call(client.aclose)
        finally:
            context.__exit__(None, None, None)


class SyncSession:
    """A `Session` without ``await``: ``client.session(id)`` on a `SyncAether`.

    Attributes:
        session: The async `Session` underneath.
    """

    __slots__ = ("_loop", "session")

    def __init__(self, session: Session, loop: _LoopThread) -> None:
        self.session = session
        self._loop = loop

    @property
    def session_id(self) -> str:
        """The id the history is stored under."""
        return self.session.session_id

    def ask(self, prompt: str, **options: Unpack[CallOptions]) -> str:
        """Send ``prompt`` with the history; store the turn; return the final text."""
        return self._loop.run(functools.partial(self.session.ask, prompt, **options))

    def complete(self, prompt: str, **options: Unpack[CallOptions]) -> LLMResponse:
        """Send ``prompt`` with the history; store the turn; return the whole response."""
        return self._loop.run(functools.partial(self.session.complete, prompt, **options))

    def stream(self, prompt: str, **options: Unpack[CallOptions]) -> Iterator[StreamChunk]:
        """Stream the answer's chunks; the turn is stored when the stream completes."""
        return self._loop.iterate(self.session.stream(prompt, **options))

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
        self._loop = _LoopThread()
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

    def request(self, prompt: Prompt, **options: Unpack[CallOptions]) -> LLMRequest:
        """The `LLMRequest` a call with these arguments would send."""
        return self.aether.request(prompt, **options)

    # -- calls ------------------------------------------------------------------------------

    def complete(self, prompt: Prompt, **options: Unpack[CallOptions]) -> LLMResponse:
        """Send one request through the pipeline and return the whole response."""
        return self._loop.run(functools.partial(self.aether.complete, prompt, **options))

    def ask(self, prompt: Prompt, **options: Unpack[CallOptions]) -> str:
        """Send one request and return the assistant's final text."""
        return self._loop.run(functools.partial(self.aether.ask, prompt, **options))

    def stream(self, prompt: Prompt, **options: Unpack[CallOptions]) -> Iterator[StreamChunk]:
        """Stream the answer as `StreamChunk` objects, ending with a final chunk.

        A plain iterator: stopping early (``break``, an error, Ctrl-C) closes the
        provider's stream once the iterator is closed, which CPython does as soon as the
        loop drops it; ``contextlib.closing(...)`` makes that point explicit.
        """
        return self._loop.iterate(self.aether.stream(prompt, **options))

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
