"""One client, many event loops: successive asyncio and trio runs, on the real adapters.

A script calling ``asyncio.run`` twice, pytest's loop per test and a web framework's
start-up hook all use one client on several loops in turn. These tests run their own
loops one after another (so they are plain functions, not async tests), against the real
SDKs talking to a loopback server over real sockets, and check that every loop's
connections are closed when that loop ends.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 - the test drives asyncio.run itself, as a script would
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import trio

from aether import Aether, EventLoopConflictError, ModelPricing
from aether._loop_binding import LoopBound
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.testing.wire import Mode, ScriptedReply, WireFormat
from aether.testing.wires import BUILTIN_WIRES

from ._servers import MODEL, threaded_server

PRICES = {MODEL: ModelPricing(input_per_mtok=1.0, output_per_mtok=2.0)}
RUNS = ["asyncio", "asyncio", "trio", "asyncio", "trio", "trio"]
ANSWER = ScriptedReply(text=("Hello", " there."))


async def take(client: Aether, mode: Mode) -> str:
    if mode == "complete":
        return await client.ask("hi")
    async with aclosing(client.stream_text("hi")) as deltas:
        return "".join([delta async for delta in deltas])


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
def test_one_client_serves_successive_event_loops(wire: WireFormat, mode: Mode) -> None:
    with threaded_server(wire, [ANSWER] * len(RUNS)) as served:
        client = Aether(served.provider(), prices=PRICES)
        for number, backend in enumerate(RUNS, start=1):
            assert anyio.run(take, client, mode, backend=backend) == "Hello there."
            # The loop's connection was closed as the loop ended, not left to the GC.
            served.wait_until(lambda: served.server.open_connections == 0)
            assert served.server.closed_connections == number
        anyio.run(client.aclose, backend="trio")
        assert client.usage.total_requests == len(RUNS)


def test_asyncio_run_twice_in_a_script() -> None:
    from aether.testing.wires.openai import OPENAI_WIRE

    with threaded_server(OPENAI_WIRE, [ANSWER, ANSWER, ANSWER]) as served:
        client = Aether(served.provider(), prices=PRICES)
        assert asyncio.run(client.ask("first")) == "Hello there."
        assert asyncio.run(client.ask("second")) == "Hello there."
        assert trio.run(client.ask, "third") == "Hello there."
        served.wait_until(lambda: served.server.open_connections == 0)


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
def test_a_session_on_sqlite_moves_between_event_loops(wire: WireFormat, tmp_path: Path) -> None:
    replies = [ScriptedReply(text=(f"answer {n}",)) for n in range(3)]
    with threaded_server(wire, replies) as served:
        store = SQLiteSessionStore(tmp_path / "sessions.db")
        client = Aether(served.provider(), prices=PRICES, memory_store=store)
        session = client.session("alice", system="Be brief.")

        async def turn(prompt: str, mode: Mode) -> str:
            if mode == "complete":
                return await session.ask(prompt)
            async with aclosing(session.stream_text(prompt)) as deltas:
                return "".join([delta async for delta in deltas])

        assert anyio.run(turn, "one", "complete", backend="asyncio") == "answer 0"
        assert anyio.run(turn, "two", "stream", backend="trio") == "answer 1"
        assert anyio.run(turn, "three", "stream", backend="asyncio") == "answer 2"
        history = anyio.run(session.history, backend="trio")
        assert [(m.role, m.content) for m in history] == [
            ("system", "Be brief."),
            ("user", "one"),
            ("assistant", "answer 0"),
            ("user", "two"),
            ("assistant", "answer 1"),
            ("user", "three"),
            ("assistant", "answer 2"),
        ]
        # The last turn sent the whole conversation so far.
        assert [m.content for m in served.mock.last.messages] == [
            "one", "answer 0", "two", "answer 1", "three"
        ]  # fmt: skip
        anyio.run(store.aclose, backend="asyncio")
        anyio.run(client.aclose, backend="asyncio")


@contextmanager
def another_loop_running(
    hold: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
) -> Iterator[None]:
    """Run ``hold(pause)`` on asyncio in another thread; the block runs while it pauses.

    ``await pause()`` tells this thread to go on, and waits until the block has ended.
    """
    ready, finish = threading.Event(), threading.Event()

    async def pause() -> None:
        ready.set()
        await anyio.to_thread.run_sync(finish.wait)

    holder = threading.Thread(target=anyio.run, args=(hold, pause))
    holder.start()
    try:
        assert ready.wait(5)
        yield
    finally:
        finish.set()
        holder.join()


def test_two_running_loops_at_once_is_a_clear_error() -> None:
    from aether.testing.wires.openai import OPENAI_WIRE

    with threaded_server(OPENAI_WIRE, [ANSWER] * 3) as served:
        client = Aether(served.provider(), prices=PRICES)

        async def use_the_client(pause: Callable[[], Awaitable[None]]) -> None:
            await client.ask("hi")
            await pause()

        expected = pytest.raises(EventLoopConflictError, match="another event loop that is still")
        with another_loop_running(use_the_client), expected:
            trio.run(client.ask, "from another loop")
        # Once the other loop has ended, this thread's loops may use the client.
        assert trio.run(client.ask, "now") == "Hello there."
        assert len(served.mock.requests) == 2


def test_a_session_refuses_a_second_running_loop_while_a_turn_is_open() -> None:
    client = Aether(FakeProvider(responses=["one", "two"]))
    session = client.session("bob")

    async def hold_a_turn(pause: Callable[[], Awaitable[None]]) -> None:
        async with aclosing(session.stream_text("hi")) as deltas:
            async for _ in deltas:
                await pause()  # the turn is open while the other thread tries

    expected = pytest.raises(EventLoopConflictError, match="session 'bob'")
    with another_loop_running(hold_a_turn), expected:
        trio.run(session.ask, "meanwhile")
    assert trio.run(session.ask, "after") == "two"


class _Resource:
    def __init__(self, log: list[str], number: int) -> None:
        self.log, self.number = log, number

    async def close(self) -> None:
        await anyio.lowlevel.checkpoint()  # a real close awaits: the loop still runs here
        self.log.append(f"closed {self.number}")


def _counting_binding(log: list[str]) -> LoopBound[_Resource]:
    built = iter(range(1, 100))

    def build() -> _Resource:
        resource = _Resource(log, next(built))
        log.append(f"built {resource.number}")
        return resource

    return LoopBound(build, _Resource.close, what="the test resource")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_loop_bound_closes_its_resource_as_the_loop_ends(backend: str) -> None:
    log: list[str] = []
    bound = _counting_binding(log)

    async def use_twice() -> int:
        first = await bound.get()
        assert await bound.get() is first  # one per loop
        log.append("used")
        return first.number

    assert anyio.run(use_twice, backend=backend) == 1
    assert anyio.run(use_twice, backend=backend) == 2
    assert log == ["built 1", "used", "closed 1", "built 2", "used", "closed 2"]


def test_loop_bound_survives_a_loop_closed_without_finalizing(
    recwarn: pytest.WarningsRecorder,
) -> None:
    log: list[str] = []
    bound = _counting_binding(log)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(bound.get())
    loop.close()  # no shutdown_asyncgens(): the resource could not be closed in its loop
    assert trio.run(bound.get).number == 2
    assert log == ["built 1", "built 2", "closed 2"]
    assert not recwarn.list


def test_aclose_closes_now_and_builds_no_more() -> None:
    log: list[str] = []
    bound = _counting_binding(log)

    async def use_and_close() -> None:
        await bound.get()
        await bound.aclose()
        await bound.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await bound.get()

    anyio.run(use_and_close)
    assert log == ["built 1", "closed 1"]


def test_the_fake_provider_and_default_stack_move_between_loops() -> None:
    client = Aether(FakeProvider(canned_response="hello"))
    answers: list[Any] = [anyio.run(client.ask, "hi", backend=b) for b in RUNS]
    assert answers == ["hello"] * len(RUNS)
