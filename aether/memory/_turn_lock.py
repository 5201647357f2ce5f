"""The lock that serialises a session's turns, and that any task may release.

An ``anyio.Lock`` belongs to the task that took it. A session stream holds its session's
lock while it yields, and a consumer that breaks out of ``async for`` without closing
the stream leaves it to the event loop's async-generator finalizer, which closes it in
another task (a task of its own on asyncio, a system task on trio). That task could not
release an owned lock, and the session would stay locked for good. A one-slot semaphore
has no owner, so the finalizer releases it and the next turn goes ahead.

A session outlives event loops (a script's successive ``asyncio.run`` calls, a loop per
test), and an anyio semaphore belongs to the loop that first used it: the lock makes a
new one when a new loop takes it while it is free. A turn held open by a loop that is
still running refuses other loops with `EventLoopConflictError`.
"""

from __future__ import annotations

from typing import Final

import anyio

from aether._loop_binding import conflict, current_loop, has_ended

__all__ = ["REENTRY_WAIT", "TurnLock"]

REENTRY_WAIT: Final = 10.0
"""Seconds a task that already holds the lock waits for it before giving up: long
enough for an abandoned stream to be finalized (its HTTP clean-up is bounded at 5 s)."""


class TurnLock:
    """A fair one-at-a-time lock for a session's turns, releasable from any task.

    Args:
        session_id: The session's id, for the error message.
    """

    __slots__ = ("_holder", "_loop", "_session_id", "_slot", "_waiting")

    def __init__(self, session_id: str) -> None:
        self._slot: anyio.Semaphore | None = None
        self._loop: object | None = None
        self._holder: int | None = None
        self._waiting = 0
        self._session_id = session_id

    def _semaphore(self) -> anyio.Semaphore:
        loop = current_loop()
        if loop is not self._loop or self._slot is None:
            busy = self._holder is not None or self._waiting
            if busy and self._loop is not None and not has_ended(self._loop):
                raise conflict(f"session {self._session_id!r}")
            self._holder, self._waiting = None, 0
            self._slot = anyio.Semaphore(1, fast_acquire=True)
            self._loop = loop
        return self._slot

    async def __aenter__(self) -> None:
        task = anyio.get_current_task().id
        slot = self._semaphore()
        self._waiting += 1
        try:
            if self._holder == task:
                await self._reenter(slot)
            else:
                await slot.acquire()
        finally:
            self._waiting -= 1
        self._holder = task

    async def _reenter(self, slot: anyio.Semaphore) -> None:
        # The holder asks again: it either abandoned a session stream (the finalizer
        # will close it and release the lock soon), or it started a turn inside a
        # session stream's own loop, which would otherwise wait forever.
        with anyio.move_on_after(REENTRY_WAIT):
            await slot.acquire()
            return
        raise RuntimeError(
            f"session {self._session_id!r} is busy with a turn this same task started and "
            f"has not finished: a session stream still open. Close it first (`async with "
            f"contextlib.aclosing(session.stream(...))`), or start the next turn after its "
            f"loop rather than inside it."
        )

    async def __aexit__(self, *exc_info: object) -> None:
        self._holder = None
        if self._slot is not None:
            self._slot.release()
