"""Resources bound to the event loop that uses them, and rebuilt on the next one.

A connection pool belongs to the event loop that opened its connections: a socket is
registered with that loop's selector, a lock or a semaphore with its scheduler. A script
that calls ``asyncio.run`` twice, pytest (a loop per test) and a web framework's start-up
hook all use one client on several loops in turn, and a pool left from a finished loop
fails on the next one (``RuntimeError: Event loop is closed`` on asyncio, ``must be called
from async context`` on trio).

`LoopBound` holds one resource for the loop using it. On first use in a loop it starts
a small async generator there that does nothing but wait; when the loop ends, asyncio
(``asyncio.run``, ``asyncio.Runner``: ``loop.shutdown_asyncgens()``) and trio (at the end of
``trio.run``) close every async generator still alive, so the generator's ``finally``
closes the resource inside its own loop, cleanly, before the loop is gone. The next loop
builds a new one on first use. Nothing runs in the background: the generator is only
resumed to be closed.

Using one resource from two loops at the same time stays an error, with a message that
says so (`EventLoopConflictError`): a pool cannot serve two loops at once. A loop that was
closed without finalizing its async generators (``loop.close()`` without
``shutdown_asyncgens()``) cannot close its resource any more; the next loop drops it and
builds its own, leaving its sockets to the garbage collector.

`PerLoop` is the light variant for primitives that need no closing (a semaphore, a
capacity limiter): one per loop, built on first use there.

The loop is told apart by anyio's event-loop token (the asyncio loop, or trio's run
token), so this module never imports asyncio.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

from aether.errors import EventLoopConflictError

__all__ = [
    "EventLoopConflictError",
    "LoopBound",
    "PerLoop",
    "conflict",
    "current_loop",
    "has_ended",
]

logger = logging.getLogger("aether.loops")

_T = TypeVar("_T")

CLOSE_TIMEOUT = 5.0
"""Seconds a resource may take to close at its loop's end (shielded and bounded)."""


def current_loop() -> object:
    """The running event loop: the asyncio loop, or trio's token for the current run."""
    return anyio.lowlevel.current_token().native_token


def has_ended(loop: object) -> bool:
    """Whether ``loop`` is known to have ended (an asyncio loop that was closed)."""
    # An asyncio loop says whether it was closed; a trio run always finalizes its async
    # generators on the way out, so a trio token still bound is a run still going.
    is_closed = getattr(loop, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


def conflict(what: str) -> EventLoopConflictError:
    """The error for ``what`` used by a second event loop while the first still runs."""
    return EventLoopConflictError(
        f"{what} is in use by another event loop that is still running (another thread, "
        f"or a loop inside a loop). A client moves freely between event loops that run one "
        f"after the other (asyncio.run, trio.run, a loop per test), but one loop at a time: "
        f"give each thread its own client, or use aether.SyncAether from threads."
    )


class LoopBound(Generic[_T]):
    """One resource for the event loop using it; closed when that loop ends.

    Args:
        build: Makes a new resource (called outside any await, in the new loop).
        close: Closes a resource, awaited inside the loop it belonged to.
        what: What the resource belongs to, for the conflict error (``"the openai
            provider"``).
        initial: A resource built already, not yet used in any loop: the first loop
            takes it instead of building one.
    """

    __slots__ = (
        "_abandoned",
        "_build",
        "_close",
        "_closed",
        "_keeper",
        "_lock",
        "_loop",
        "_value",
        "_what",
    )

    def __init__(
        self,
        build: Callable[[], _T],
        close: Callable[[_T], Awaitable[None]],
        *,
        what: str,
        initial: _T | None = None,
    ) -> None:
        self._build = build
        self._close = close
        self._what = what
        self._lock = threading.RLock()  # `_drop` finishes the keeper, which takes it too
        self._loop: object | None = None
        self._value: _T | None = initial
        self._keeper: AsyncGenerator[None, None] | None = None
        self._abandoned: _T | None = None
        self._closed = False

    @property
    def current(self) -> _T | None:
        """The resource of the last loop that used it (``None`` once that loop ended)."""
        return self._value

    async def get(self) -> _T:
        """The resource for the running loop, built (and bound) on first use there.

        Raises:
            EventLoopConflictError: If another loop still running holds the resource.
        """
        loop = current_loop()
        value = self._value
        if loop is self._loop and value is not None:
            return value
        return await self._bind(loop)

    async def _bind(self, loop: object) -> _T:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._what} is closed")
            if self._loop is not None and self._loop is not loop:
                if not has_ended(self._loop):
                    raise conflict(self._what)
                # Closed without finalizing its async generators: nothing can close the
                # old resource in its own loop any more. Drop it and start afresh.
                self._drop()
            if self._loop is loop and self._value is not None:
                return self._value
            value = self._value if self._value is not None else self._build()
            keeper = self._keep(value)
            self._loop, self._value, self._keeper = loop, value, keeper
        # Its first step runs to the `yield` without suspending, so nothing interleaves;
        # from here on the loop knows the generator and closes it when the loop ends.
        await keeper.asend(None)
        return value

    def _drop(self) -> None:
        keeper, self._keeper = self._keeper, None
        self._abandoned, self._loop, self._value = self._value, None, None
        if keeper is not None:
            # Finish the generator here, without awaiting: its loop is gone, and left to
            # the garbage collector it would ask that closed loop to finalize it.
            closing = keeper.aclose()
            try:
                closing.send(None)
            except StopIteration:
                pass
            else:  # pragma: no cover - the abandoned path awaits nothing
                closing.close()

    async def _keep(self, value: _T) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self._release(value)

    async def _release(self, value: _T) -> None:
        with self._lock:
            if self._abandoned is value:
                self._abandoned = None
                return  # dropped by `_drop`: its loop ended without finalizing it
            if self._value is value:
                self._loop, self._value, self._keeper = None, None, None
        # The loop is ending (or the owner closing): on trio this runs in a cancelled scope.
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            try:
                await self._close(value)
            except Exception:  # a close that fails must not break the loop's shutdown
                logger.warning(
                    "closing %s at the end of its event loop failed", self._what, exc_info=True
                )

    async def aclose(self) -> None:
        """Close the resource now and build no more. Calling it twice does nothing more.

        Raises:
            EventLoopConflictError: If another loop still running holds the resource.
        """
        with self._lock:
            if self._closed:
                return
            loop, keeper, value = self._loop, self._keeper, self._value
            if loop is not None and loop is not current_loop() and not has_ended(loop):
                raise conflict(self._what)
            self._closed = True
            if keeper is None or loop is not current_loop():
                self._drop()
                keeper = None
        if keeper is not None:
            await keeper.aclose()  # its `finally` closes the resource
        elif value is not None and loop is None:
            await self._close(value)  # built, never used in a loop


class PerLoop(Generic[_T]):
    """One object per running event loop, made by ``factory`` on first use in each.

    For primitives that need no closing (``anyio.CapacityLimiter``, ``anyio.Semaphore``):
    an anyio primitive belongs to the backend it was first used on. Loops are held
    weakly, so a finished loop's object goes with it.
    """

    __slots__ = ("_factory", "_objects")

    def __init__(self, factory: Callable[[], _T]) -> None:
        self._factory = factory
        self._objects: weakref.WeakKeyDictionary[object, _T] = weakref.WeakKeyDictionary()

    def get(self) -> _T:
        """The object for the running loop."""
        loop = current_loop()
        found = self._objects.get(loop)
        if found is None:
            found = self._objects[loop] = self._factory()
        return found
