"""Time that each task keeps for itself: fleet tests without waiting and without timing.

``clock()`` is the calling task's own time; ``sleep(s)`` moves it on by ``s`` at once.
A task started in a task group begins at its parent's time (it copies the context), so
a hundred concurrent callers all arrive at the limiter at the same instant, as real
callers would, and each then lives at the time its booking gave it. A limiter, or a
mock provider noting when requests arrive, reads the same clock.
"""

from __future__ import annotations

import contextvars

import anyio.lowlevel

_now: contextvars.ContextVar[float] = contextvars.ContextVar("virtual_now", default=0.0)


def clock() -> float:
    """The calling task's time."""
    return _now.get()


async def sleep(seconds: float) -> None:
    """Move the calling task's time on by ``seconds`` (and let others run)."""
    _now.set(_now.get() + max(0.0, seconds))
    await anyio.lowlevel.checkpoint()


def set_time(seconds: float) -> None:
    """Set the calling task's time (children started afterwards begin there)."""
    _now.set(seconds)
