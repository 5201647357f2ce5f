"""The lock that serialises a session's turns, and that any task may release.

An ``anyio.Lock`` belongs to the task that took it. A session stream holds its session's
lock while it yields, and a consumer that breaks out of ``async for`` without closing
the stream leaves it to the event loop's async-generator finalizer, which closes it in
another task (a task of its own on asyncio, a system task on trio). That task could not
release an owned lock, and the session would stay locked for good. A one-slot semaphore
has no owner, so the finalizer releases it and the next turn goes ahead.
"""

from __future__ import annotations

from typing import Final

import anyio

__all__ = ["REENTRY_WAIT", "TurnLock"]

REENTRY_WAIT: Final = 10.0
"""Seconds a task that already holds the lock waits for it before giving up: long
enough for an abandoned stream to be finalized (its HTTP clean-up is bounded at 5 s)."""


class TurnLock:
    """A fair one-at-a-time lock for a session's turns, releasable from any task.

    Args:
        session_id: The session's id, for the error message.
    """

    __slots__ = ("_holder", "_session_id", "_slot")

    def __init__(self, session_id: str) -> None:
        self._slot = anyio.Semaphore(1, fast_acquire=True)
        self._holder: int | None = None
        self._session_id = session_id

    async def __aenter__(self) -> None:
        task = anyio.get_current_task().id
        if self._holder == task:
            await self._reenter()
        else:
            await self._slot.acquire()
        self._holder = task

    async def _reenter(self) -> None:
        # The holder asks again: it either abandoned a session stream (the finalizer
        # will close it and release the lock soon), or it started a turn inside a
        # session stream's own loop, which would otherwise wait forever.
        with anyio.move_on_after(REENTRY_WAIT):
            await self._slot.acquire()
            return
        raise RuntimeError(
            f"session {self._session_id!r} is busy with a turn this same task started and "
            f"has not finished: a session stream still open. Close it first (`async with "
            f"contextlib.aclosing(session.stream(...))`), or start the next turn after its "
            f"loop rather than inside it."
        )

    async def __aexit__(self, *exc_info: object) -> None:
        self._holder = None
        self._slot.release()
