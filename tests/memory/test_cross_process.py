"""Two OS processes, 50 concurrent turns each, one session: no message lost, no pair split.

One process runs on asyncio, the other on trio. They start together (a line on stdin
releases both), and write through SQLite (one file, WAL) or Redis (one list).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import pytest

from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import Message

WORKER = Path(__file__).with_name("_session_worker.py")
TURNS = 50


def run_two_processes(store_arguments: list[str]) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKER), label, backend, *store_arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label, backend in (("a", "asyncio"), ("b", "trio"))
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.stderr
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            _, errors = process.communicate(timeout=120)
            assert process.returncode == 0, errors
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def check_history(history: list[Message]) -> None:
    assert len(history) == 1 + 2 * 2 * TURNS
    assert history[0] == Message(role="system", content="shared system")
    turns = history[1:]
    assert [message.role for message in turns] == ["user", "assistant"] * (2 * TURNS)
    for position in range(0, len(turns), 2):
        assert turns[position + 1].content == f"re: {turns[position].content}"
    prompts = [message.content for message in turns[::2]]
    assert sorted(prompts) == sorted(
        f"{label}-{index}" for label in ("a", "b") for index in range(TURNS)
    )
    # Both processes really ran at once: their turns alternate at least once.
    owners = [prompt.split("-")[0] for prompt in prompts]
    assert sum(1 for left, right in itertools.pairwise(owners) if left != right) >= 1


def load(store: SQLiteSessionStore | RedisSessionStore, session_id: str) -> list[Message]:
    async def read() -> list[Message]:
        async with store:
            return await store.load(session_id)

    return anyio.run(read)


@pytest.mark.slow
def test_two_processes_share_one_sqlite_session(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    run_two_processes(["sqlite", str(path), "shared"])
    check_history(load(SQLiteSessionStore(path), "shared"))


@pytest.mark.slow
@pytest.mark.redis
def test_two_processes_share_one_redis_session(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    run_two_processes(["redis", redis_url, namespace, "shared"])
    check_history(load(RedisSessionStore(redis_url, namespace=namespace), "shared"))
