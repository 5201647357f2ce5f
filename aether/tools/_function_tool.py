"""Turning a Python function into a `Tool`: its schema and the handler that runs it."""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import EventLoopToken, RunVar, current_token
from pydantic import ValidationError

from aether.errors import ConfigurationError, ToolArgumentsError
from aether.llm.contracts import Tool
from aether.tools.schema import FunctionSchema, function_schema

__all__ = [
    "FunctionHandler",
    "cached_tool",
    "run_in_tool_thread",
    "tool_from_function",
    "tool_timeout",
]

_MAX_INPUT_REPR = 80
_T = TypeVar("_T")


def _describe_validation_error(tool_name: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(arguments)"
        shown = repr(item.get("input"))
        if len(shown) > _MAX_INPUT_REPR:
            shown = shown[: _MAX_INPUT_REPR - 3] + "..."
        if item["type"] == "missing":
            problems.append(f"{location}: required, but not given")
        elif item["type"] == "extra_forbidden":
            problems.append(f"{location}: not a parameter of this tool")
        else:
            problems.append(f"{location}: {item['msg']} (got {shown})")
    return f"invalid arguments for tool {tool_name!r}: " + "; ".join(problems)


class FunctionHandler:
    """The handler of a function tool: validates the model's arguments, then runs it.

    Async functions are awaited; sync ones run in a worker thread, so a slow one never
    blocks the event loop. When a sync tool is cancelled (timeout or caller), the
    thread is abandoned: it finishes on its own, its result is dropped, and it keeps
    its slot in the tools' thread pool until then (see `run_in_tool_thread`).
    """

    __slots__ = ("__weakref__", "function", "is_async", "schema", "timeout")

    def __init__(
        self, function: Callable[..., Any], schema: FunctionSchema, *, timeout: float | None
    ) -> None:
        self.function = function
        self.schema = schema
        self.timeout = timeout
        unwrapped = inspect.unwrap(function)
        self.is_async = inspect.iscoroutinefunction(unwrapped) or inspect.iscoroutinefunction(
            getattr(unwrapped, "__call__", None)  # noqa: B004 - async callable objects
        )

    async def __call__(self, arguments: dict[str, Any]) -> Any:
        """Validate ``arguments`` against the signature and run the function.

        Raises:
            ToolArgumentsError: If the arguments do not fit the signature; the message
                lists each problem, for the model to correct.
        """
        try:
            args, kwargs = self.schema.bind(arguments)
        except ValidationError as error:
            raise ToolArgumentsError(_describe_validation_error(self.schema.name, error)) from error
        if self.is_async:
            return await self.function(*args, **kwargs)
        return await run_in_tool_thread(functools.partial(self.function, *args, **kwargs))

    def __repr__(self) -> str:
        return f"FunctionHandler({getattr(self.function, '__qualname__', self.function)!r})"


SYNC_TOOL_THREADS = 32
"""Worker threads sync tools may use at once, per event loop."""

_tool_threads: RunVar[anyio.CapacityLimiter] = RunVar("aether_tool_threads")
_uncapped_threads: RunVar[anyio.CapacityLimiter] = RunVar("aether_uncapped_tool_threads")


def tool_thread_limiter() -> anyio.CapacityLimiter:
    """The event loop's limiter for sync tools: their own pool, apart from anyio's default.

    A sync tool that times out is abandoned and its thread runs on; with a pool of their
    own, hung tools can only crowd out other tools, never the worker threads that SQLite
    stores and the price library use.
    """
    try:
        return _tool_threads.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(SYNC_TOOL_THREADS)
        _tool_threads.set(limiter)
        return limiter


def _uncapped() -> anyio.CapacityLimiter:
    # The cap is the tools' own slots (held until each thread ends): this limiter only
    # keeps their threads out of anyio's default pool.
    try:
        return _uncapped_threads.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(math.inf)
        _uncapped_threads.set(limiter)
        return limiter


class _Slot:
    """One of the tools' thread slots, released when its thread is done with the tool.

    anyio lets go of a limiter's token as soon as an abandoned call is cancelled (on
    asyncio; trio keeps it until the thread ends), so timed-out tools would pile up
    threads past the cap. The slot is taken here instead, and given back by whichever
    side finishes last: the caller when the tool returned or never started, the thread
    (through the event loop) when the caller gave up while the tool was running.
    """

    __slots__ = ("_limiter", "_lock", "_state", "_token")

    def __init__(self, limiter: anyio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._token: EventLoopToken | None = None  # taken only if the thread must release
        self._lock = threading.Lock()
        self._state = "waiting"  # then "running", and "done" or "abandoned"

    def work(self, function: Callable[[], _T]) -> Callable[[], _T | None]:
        """``function`` as the thread runs it: not at all if the caller already gave up."""

        def run() -> _T | None:
            with self._lock:
                if self._state == "abandoned":
                    return None
                self._state = "running"
            try:
                return function()
            finally:
                with self._lock:
                    abandoned = self._state == "abandoned"
                    self._state = "done"
                if abandoned:
                    self._release_from_the_thread()

        return run

    def abandon(self) -> None:
        """The caller stopped waiting: release now, unless the tool is still running."""
        token = current_token()  # on the event loop: the thread returns through it
        with self._lock:
            running = self._state == "running"
            self._state = "abandoned"
            self._token = token
        if not running:
            self._limiter.release_on_behalf_of(self)

    def release(self) -> None:
        """The tool returned to its caller: release now."""
        self._limiter.release_on_behalf_of(self)

    def _release_from_the_thread(self) -> None:
        # Scheduled without waiting: a thread that blocked on the event loop would wait
        # for ever once the loop has stopped running (a test's loop, a stopped asyncio
        # loop not yet closed), and the interpreter would hang at exit joining it. If
        # the loop has ended, the limiter has gone with it: nothing to release.
        token = self._token
        if token is None:
            return
        with contextlib.suppress(Exception):
            token.backend_class.run_sync_soon(
                self._limiter.release_on_behalf_of, (self,), token.native_token
            )


async def run_in_tool_thread(function: Callable[[], _T]) -> _T:
    """Run ``function`` in a worker thread, in one of the tools' `SYNC_TOOL_THREADS` slots.

    When the caller is cancelled (a timeout), the thread is abandoned: it finishes on its
    own, its result is dropped, and it keeps its slot until it ends.
    """
    limiter = tool_thread_limiter()
    slot = _Slot(limiter)
    try:
        # Without the checkpoints of the awaiting form when a slot is free (about 10 µs
        # a call): starting the thread checkpoints anyway.
        limiter.acquire_on_behalf_of_nowait(slot)
    except anyio.WouldBlock:
        await limiter.acquire_on_behalf_of(slot)
    try:
        result = await anyio.to_thread.run_sync(
            slot.work(function), abandon_on_cancel=True, limiter=_uncapped()
        )
    except BaseException:
        slot.abandon()
        raise
    slot.release()
    return result  # type: ignore[return-value]  # None only when abandoned


def tool_timeout(tool: Tool) -> float | None:
    """The per-tool timeout given to `register_tool` or `tool_from_function`, if any."""
    handler = tool.handler
    return handler.timeout if isinstance(handler, FunctionHandler) else None


_unregistered: weakref.WeakKeyDictionary[Callable[..., Any], Tool] = weakref.WeakKeyDictionary()


def tool_from_function(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Tool:
    """Make a `Tool` from a sync or async function, without registering it.

    Args:
        function: The function; its signature and docstring give the schema.
        name: The tool name; the function's name by default.
        description: What the tool does, for the model; the docstring's text by default.
        timeout: Seconds the tool may run before the loop gives up on it.

    Raises:
        ToolError: If no schema can be built for the function (see `function_schema`).
    """
    if timeout is not None and timeout <= 0:
        raise ConfigurationError(f"timeout must be a number of seconds above 0, not {timeout!r}")
    schema = function_schema(function, name=name, description=description)
    return Tool(
        name=schema.name,
        description=schema.description,
        parameters=schema.parameters,
        handler=FunctionHandler(function, schema, timeout=timeout),
    )


def cached_tool(function: Callable[..., Any]) -> Tool:
    """The `Tool` for an unregistered function, built once per function object."""
    try:
        tool = _unregistered.get(function)
    except TypeError:
        return tool_from_function(function)
    if tool is None:
        tool = tool_from_function(function)
        with contextlib.suppress(TypeError):
            _unregistered[function] = tool
    return tool
