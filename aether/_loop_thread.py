"""The event loop in a worker thread under `SyncAether`, and calls into it from outside.

One anyio blocking portal (asyncio) per client, started on first use from a helper thread
(see `LoopThread._get_portal`). `LoopThread.run` hands a coroutine function to the loop
and waits; `LoopThread.iterate` turns an async iterator into a plain one, one step per
item. A Ctrl-C while waiting cancels the work on the loop and waits for its clean-up.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import anyio

if TYPE_CHECKING:  # anyio.from_thread is imported on first use: `import aether` stays light
    from concurrent.futures import Future

    from anyio.from_thread import BlockingPortal

__all__ = ["LoopThread"]

_T = TypeVar("_T")
_END: Final = object()

_CLEANUP_WAIT: Final = 10.0
"""Seconds an interrupted call waits for its task's clean-up (itself bounded at 5 s)."""


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


class LoopThread:
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

    def stop(self, client: Any = None) -> None:
        """Close ``client`` (``await client.aclose()``) on the loop if it ever ran, then stop it."""
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
