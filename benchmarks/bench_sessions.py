"""Sessions per store (memory, SQLite, Redis), and the coredis client against redis-py."""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from aether import Aether, SessionStore
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory import InMemorySessionStore
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.extensions.redis import create_redis_client
from aether.testing.redis_server import RedisServer
from benchmarks._harness import BACKENDS, Row, cli, measure

TITLE = "Sessions: turns per store, and the Redis client"
NOTES = """
A turn is `session.ask` on a client with an empty stack around the Fake provider, so the
numbers are the session's own cost plus its store's: load the history, send, append the
(user, assistant) pair. Sessions hold at most 10 turns (a new session id every 10 turns),
so histories stay between 0 and 18 messages. "sequential" is one turn after another
(latency); "concurrent" runs 32 sessions at once and reports turns per second. "session
overhead" is a memory-store turn minus a bare `client.ask` (it includes building and
counting a request that carries 9 history messages on average). SQLite is a file in a temp
dir (WAL, synchronous=NORMAL); Redis is a local `redis-server` on loopback.

"5 MB image" rows: a turn whose prompt holds a 5 MB PNG (`session.ask(["Describe it.",
image])`: the store appends the record, base64 inside, the size the note gives), and a
text turn on a session whose history holds that image (the store loads and decodes it
again: every later turn of that session pays this). The memory store keeps the objects
themselves, so it neither encodes nor decodes.

The Redis client rows compare coredis (what Aether uses, through `create_redis_client`:
anyio, both backends), redis-py's asyncio client (asyncio only: it cannot run on trio),
and redis-py's sync client in worker threads through `anyio.to_thread` (the other way to
serve both backends), on two operations Aether uses: a round trip of one `PING`, and
reading a 10,000-message history (`LRANGE` of 10,000 elements of 300 bytes, 3 MB).
"32 tasks" runs 32 concurrent `PING`s and reports calls per second. The clients are
measured in alternating rounds (median of 5), so that a change in the machine's load
does not favour one; on a shared 2-core machine the absolute numbers still move by tens
of percent from run to run.
"""

TURNS_PER_SESSION = 10
CONCURRENT_SESSIONS = 32

StoreFactory = Callable[[], SessionStore]


def _turns(make_store: StoreFactory, *, concurrent: bool) -> Callable[[int], Awaitable[None]]:
    async def body(n: int) -> None:
        async with AsyncExitStack() as stack:
            store = make_store()
            if hasattr(store, "__aenter__"):  # SQLite and Redis stores open and close
                await stack.enter_async_context(store)  # type: ignore[arg-type]
            await _run_turns(store, n, concurrent=concurrent)

    return body


async def _run_turns(store: SessionStore, n: int, *, concurrent: bool) -> None:
    client = Aether(
        FakeProvider("A short answer of a few words."), stack=[], memory_store=store
    )
    run = uuid.uuid4().hex

    async def worker(lane: int, count: int) -> None:
        for index in range(count):
            session = client.session(f"{run}-{lane}-{index // TURNS_PER_SESSION}")
            await session.ask("A short question?")

    if concurrent:
        async with anyio.create_task_group() as group:
            for lane in range(CONCURRENT_SESSIONS):
                group.start_soon(worker, lane, n // CONCURRENT_SESSIONS)
    else:
        await worker(0, n)


IMAGE_BYTES = 5_000_000


def _image_rows(name: str, make_store: StoreFactory, backend: str, *, quick: bool) -> list[Row]:
    from aether import ImagePart, Message
    from aether.memory.codec import encode_message

    image = ImagePart(data=b"\x89PNG\r\n\x1a\n" + os.urandom(IMAGE_BYTES - 8))
    prompt = ["Describe it.", image]

    state: dict[str, Any] = {}

    async def open_store() -> None:
        store = make_store()
        stack = state["stack"] = AsyncExitStack()
        if hasattr(store, "__aenter__"):  # SQLite and Redis stores open and close
            await stack.enter_async_context(store)  # type: ignore[arg-type]
        state["client"] = Aether(FakeProvider("A picture."), stack=[], memory_store=store)

    async def open_session_with_image() -> None:
        await open_store()
        session = state["session"] = state["client"].session(uuid.uuid4().hex)
        await session.ask(prompt)

    async def with_image(n: int) -> None:
        client, run = state["client"], uuid.uuid4().hex
        for index in range(n):
            await client.session(f"{run}-{index}").ask(prompt)
        await state["stack"].aclose()

    async def after_image(n: int) -> None:
        for _ in range(n):
            await state["session"].ask("And now?")
        await state["stack"].aclose()

    turns = 3 if quick else 10
    stored = len(encode_message(Message(role="user", content=prompt)))
    note = f"{stored:,} B stored" if name != "memory" else "objects kept as they are"
    return [
        Row(f"{name}: turn with a 5 MB image", backend,
            measure(with_image, iterations=turns, backend=backend, setup=open_store), "s", note),
        Row(f"{name}: text turn, 5 MB image in history", backend,
            measure(after_image, iterations=turns, backend=backend,
                    setup=open_session_with_image), "s"),
    ]  # fmt: skip


def _bare_asks() -> Callable[[int], Awaitable[None]]:
    async def body(n: int) -> None:
        client = Aether(FakeProvider("A short answer of a few words."), stack=[])
        for _ in range(n):
            await client.ask("A short question?")

    return body


def _store_rows(
    name: str, make_store: StoreFactory, backend: str, *, quick: bool, note: str = ""
) -> list[Row]:
    turns = (200 if quick else 2000) if name == "memory" else (100 if quick else 1000)
    turns -= turns % CONCURRENT_SESSIONS
    sequential = measure(_turns(make_store, concurrent=False), iterations=turns, backend=backend)
    concurrent = measure(_turns(make_store, concurrent=True), iterations=turns, backend=backend)
    return [
        Row(f"{name}: turn, sequential", backend, sequential, "s", note),
        Row(f"{name}: turns, sequential", backend, 1 / sequential, "turns/s", note),
        Row(f"{name}: turns, {CONCURRENT_SESSIONS} sessions at once", backend, 1 / concurrent,
            "turns/s", note),
    ]  # fmt: skip


HISTORY_KEY = "bench:history"
HISTORY_LENGTH = 10_000


def _coredis(url: str, *, tasks: int, read: bool) -> Callable[[int], Awaitable[None]]:
    async def body(n: int) -> None:
        async with create_redis_client(url, max_connections=tasks) as client:
            if read:
                await _spread(n, tasks, lambda: client.lrange(HISTORY_KEY, 0, -1))
            else:
                await _spread(n, tasks, client.ping)

    return body


def _redis_py_asyncio(url: str, *, tasks: int, read: bool) -> Callable[[int], Awaitable[None]]:
    async def body(n: int) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url, max_connections=tasks)
        try:
            if read:
                await _spread(n, tasks, lambda: client.lrange(HISTORY_KEY, 0, -1))
            else:
                await _spread(n, tasks, client.ping)
        finally:
            await client.aclose()

    return body


def _redis_py_threads(url: str, *, tasks: int, read: bool) -> Callable[[int], Awaitable[None]]:
    async def body(n: int) -> None:
        import redis

        client = redis.Redis.from_url(url, max_connections=tasks)

        def call() -> object:
            return client.lrange(HISTORY_KEY, 0, -1) if read else client.ping()

        try:
            await _spread(n, tasks, lambda: anyio.to_thread.run_sync(call))
        finally:
            client.close()

    return body


def _fill_history(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.delete(HISTORY_KEY)
    for _ in range(HISTORY_LENGTH // 1000):
        client.rpush(HISTORY_KEY, *[b"x" * 300] * 1000)
    client.close()


async def _spread(n: int, tasks: int, call: Callable[[], Awaitable[Any]]) -> None:
    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    if tasks == 1:
        await worker(n)
        return
    async with anyio.create_task_group() as group:
        for _ in range(tasks):
            group.start_soon(worker, n // tasks)


def _redis_client_rows(url: str, backend: str, *, quick: bool) -> list[Row]:
    pings, reads = (320, 10) if quick else (3200, 60)
    clients: list[tuple[str, Callable[..., Callable[[int], Awaitable[None]]]]] = [
        ("coredis (anyio)", _coredis),
        ("redis-py sync client in threads", _redis_py_threads),
    ]
    if backend == "asyncio":
        clients.insert(1, ("redis-py asyncio client", _redis_py_asyncio))
    cases = [("PING", 1, pings), (f"PING, {CONCURRENT_SESSIONS} tasks", CONCURRENT_SESSIONS,
             pings), (f"LRANGE of {HISTORY_LENGTH:,} x 300 B", 1, reads)]  # fmt: skip
    # Rounds alternate between the clients, so a change in the machine's load hits all.
    samples: dict[tuple[str, str], list[float]] = {}
    for _round in range(5):
        for label, make in clients:
            for case, tasks, count in cases:
                body = make(url, tasks=tasks, read=case.startswith("LRANGE"))
                value = measure(body, iterations=count, backend=backend, repeats=1)
                samples.setdefault((label, case), []).append(value)
    rows = []
    for label, _make in clients:
        for case, tasks, _count in cases:
            value = statistics.median(samples[label, case])
            if tasks == 1:
                rows.append(Row(f"{case}, {label}", backend, value, "s"))
            else:
                rows.append(Row(f"{case}, {label}", backend, 1 / value, "calls/s"))
    return rows


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    server = RedisServer() if RedisServer.executable() else None
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "sessions.db"
        url = server.start() if server is not None else None
        try:
            for backend in BACKENDS:
                bare = measure(_bare_asks(), iterations=200 if quick else 2000, backend=backend)
                memory_rows = _store_rows("memory", InMemorySessionStore, backend, quick=quick)
                rows += memory_rows
                rows += _image_rows("memory", InMemorySessionStore, backend, quick=quick)
                rows.append(
                    Row("session overhead per turn (memory store)", backend,
                        memory_rows[0].value - bare, "s", "vs a bare client.ask")
                )  # fmt: skip
                rows += _store_rows(
                    "SQLite", lambda: SQLiteSessionStore(database), backend, quick=quick
                )
                rows += _image_rows(
                    "SQLite", lambda: SQLiteSessionStore(database), backend, quick=quick
                )
                if url is None:
                    rows.append(Row("Redis", backend, 0, "s", "skipped: no redis-server"))
                    continue
                rows += _store_rows(
                    "Redis",
                    lambda: RedisSessionStore(url, namespace=f"bench-{uuid.uuid4().hex}"),
                    backend,
                    quick=quick,
                )
                rows += _image_rows(
                    "Redis",
                    lambda: RedisSessionStore(url, namespace=f"bench-{uuid.uuid4().hex}"),
                    backend,
                    quick=quick,
                )
                _fill_history(url)
                rows += _redis_client_rows(url, backend, quick=quick)
        finally:
            if server is not None:
                server.stop()
    return rows


if __name__ == "__main__":
    cli(run)
