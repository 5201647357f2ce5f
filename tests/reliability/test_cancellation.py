"""Cancelling a call or a stream at any point leaves nothing behind, on asyncio and trio.

Each point (before the request, while the server holds the request, during retry's
backoff, mid-stream, inside a tool) is reached on every built-in wire format, as a
session turn through the default stack. Afterwards: no open stream or held request on
the server, no task left running, no message stored, usage holding only what billed,
the circuit breaker untouched, and the next turn on the same session works.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing, nullcontext
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from aether import Aether, CircuitBreakerPolicy, RetryPolicy
from aether.middleware import CircuitStateChange
from aether.testing.wire import (
    Hang,
    MockServer,
    Mode,
    Script,
    ScriptedError,
    ScriptedReply,
    ScriptedToolCall,
    StalledStream,
    WireFormat,
)
from aether.testing.wires import BUILTIN_WIRES

from ._support import MODEL, PRICES, count_events, running_tasks, take_turn, wait_until

pytestmark = pytest.mark.anyio

ANSWER = ScriptedReply(text=("Hello", " there."))
SLOW_RETRY = RetryPolicy(attempts=3, base_delay=30, jitter=0)
"""A backoff far longer than any test: a call cancelled during it ends at once."""


@dataclass
class Probe:
    """What a cancellation point can watch: the server, the events, the tool."""

    server: MockServer
    events: Any
    deltas: list[str]
    tool_started: anyio.Event


@dataclass(frozen=True)
class Point:
    """Where the cancellation lands, what the server does, and what has billed by then."""

    name: str
    script: tuple[Script, ...]
    reached: Callable[[Probe], bool]
    modes: tuple[Mode, ...] = ("complete", "stream")
    requests: int = 1
    billed: int = 0
    with_tool: bool = False


TOOL_CALL = ScriptedReply(
    tool_calls=(ScriptedToolCall("call_1", "wait_for_ever", ("{}",)),),
    finish_reason="tool_calls",
)

POINTS = (
    Point(
        "while_the_server_holds_the_request",
        (Hang(),),
        lambda probe: probe.server.held_requests == 1,
    ),
    Point(
        "during_retry_backoff",
        (ScriptedError(503, "Overloaded"),),
        lambda probe: probe.events["request.error"] + probe.events["stream.error"] == 1,
    ),
    Point(
        "mid_stream",
        (StalledStream(text=("first ",)),),
        lambda probe: probe.deltas == ["first "],
        modes=("stream",),
    ),
    Point(
        "inside_a_tool",
        (TOOL_CALL,),
        lambda probe: probe.tool_started.is_set(),
        billed=1,  # the model call that asked for the tool completed and billed
        with_tool=True,
    ),
)

CASES = [
    pytest.param(point, wire, mode, id=f"{point.name}-{wire.name}-{mode}")
    for point in POINTS
    for wire in BUILTIN_WIRES
    for mode in point.modes
]


async def cancel_when(reached: Callable[[], bool], scope: anyio.CancelScope) -> None:
    await wait_until(reached)
    scope.cancel()


@pytest.mark.parametrize(("point", "wire", "mode"), CASES)
async def test_cancellation_leaves_nothing_behind(
    point: Point, wire: WireFormat, mode: Mode
) -> None:
    tasks_before = running_tasks()
    server = MockServer(wire, [*point.script, ANSWER])
    provider = wire.build_provider(server, default_model=MODEL)
    changes: list[CircuitStateChange] = []
    breaker = CircuitBreakerPolicy(failure_threshold=1, on_state_change=changes.append)
    tool_started = anyio.Event()
    tool_finished: list[str] = []

    async def wait_for_ever() -> str:
        """Start, then wait until cancelled."""
        tool_started.set()
        try:
            await anyio.sleep_forever()
        finally:
            tool_finished.append("cancelled")
        return "never"

    tools: dict[str, Any] = {"tools": [wait_for_ever]} if point.with_tool else {}
    async with Aether(provider, retry=SLOW_RETRY, circuit_breaker=breaker, prices=PRICES) as client:
        events = count_events(client)
        session = client.session("cancel", system="Be brief.")
        probe = Probe(server, events, [], tool_started)
        with anyio.fail_after(10):
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as group:
                    group.start_soon(cancel_when, lambda: point.reached(probe), scope)
                    await take_turn(session, mode, "hi", probe.deltas, **tools)
        assert scope.cancelled_caught
        assert len(server.requests) == point.requests
        assert (server.open_streams, server.held_requests) == (0, 0)
        assert tool_finished == (["cancelled"] if point.with_tool else [])
        assert await session.history() == []
        assert client.usage.total_requests == point.billed
        # No completion event for the cancelled call or stream; only the model call that
        # asked for the tool completed, in either mode.
        assert events["request.complete"] == point.billed
        assert events["stream.complete"] == 0
        assert changes == []  # a cancellation is no verdict on the provider

        # The session, the breaker and the connection pool are all free for the next turn.
        assert await take_turn(session, mode, "again", []) == "Hello there."
        assert [message.content for message in await session.history()] == [
            "Be brief.",
            "again",
            "Hello there.",
        ]
    assert server.open_streams == 0
    assert running_tasks() == tasks_before


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_call_cancelled_before_the_request_sends_nothing(
    wire: WireFormat, mode: Mode
) -> None:
    tasks_before = running_tasks()
    server = MockServer(wire, [ANSWER])
    async with Aether(wire.build_provider(server, default_model=MODEL)) as client:
        session = client.session("cancel")
        with anyio.CancelScope() as scope:
            scope.cancel()
            await take_turn(session, mode, "hi", [])
        assert scope.cancelled_caught
        assert server.requests == []
        assert await session.history() == []
        assert client.usage.total_requests == 0
        assert await take_turn(session, mode, "again", []) == "Hello there."
    assert running_tasks() == tasks_before


# -- a consumer that stops early ------------------------------------------------------


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_breaking_out_of_a_closed_stream_closes_the_provider_stream(wire: WireFormat) -> None:
    tasks_before = running_tasks()
    server = MockServer(wire, [StalledStream(text=("one ", "two ")), ANSWER])
    async with Aether(wire.build_provider(server, default_model=MODEL)) as client:
        session = client.session("early")
        async with aclosing(session.stream_text("count")) as stream:
            async for delta in stream:
                assert delta == "one "
                break
        assert (server.open_streams, server.closed_streams) == (0, 1)
        assert await session.history() == []
        assert client.usage.total_requests == 0
        assert await session.ask("again") == "Hello there."
    assert running_tasks() == tasks_before


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_session_stream_abandoned_without_aclosing_frees_the_session(
    wire: WireFormat, anyio_backend: str
) -> None:
    # Left to the garbage collector, the stream is closed by the event loop's finalizer,
    # in another task; trio also warns that it should have been closed (on asyncio, any
    # warning fails the test: warnings are errors).
    server = MockServer(wire, [StalledStream(text=("one ", "two ")), ANSWER])
    async with Aether(wire.build_provider(server, default_model=MODEL)) as client:
        session = client.session("abandoned")
        with pytest.warns(ResourceWarning) if anyio_backend == "trio" else nullcontext():
            async for delta in session.stream_text("count"):
                assert delta == "one "
                break
        await wait_until(lambda: server.open_streams == 0)
        assert server.closed_streams == 1
        with anyio.fail_after(5):
            assert await session.ask("again") == "Hello there."
        assert [message.content for message in await session.history()] == [
            "again",
            "Hello there.",
        ]


async def test_turn_started_inside_a_session_streams_loop_fails_instead_of_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aether.extensions.llm.fake import FakeProvider
    from aether.memory import _turn_lock

    monkeypatch.setattr(_turn_lock, "REENTRY_WAIT", 0.05)
    async with Aether(FakeProvider("one two three")) as client:
        session = client.session("nested")
        async with aclosing(session.stream_text("outer")) as stream:
            async for _delta in stream:
                with pytest.raises(RuntimeError, match="a session stream still open"):
                    await session.ask("inner")
                break
        assert await session.ask("after") == "one two three"
