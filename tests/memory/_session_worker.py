"""One OS process of the cross-process test: 50 concurrent turns on one shared session.

Usage: python _session_worker.py LABEL BACKEND sqlite PATH SESSION_ID
       python _session_worker.py LABEL BACKEND redis URL NAMESPACE SESSION_ID

Prints "ready", waits for a line on stdin (so both processes start together), runs the
turns, prints "done".
"""

from __future__ import annotations

import sys

import anyio

from aether import Aether
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import LLMRequest

TURNS = 50


def echo(request: LLMRequest) -> str:
    return f"re: {request.messages[-1].content}"


async def main(label: str, kind: str, arguments: list[str]) -> None:
    store: SQLiteSessionStore | RedisSessionStore
    if kind == "sqlite":
        path, session_id = arguments
        store = SQLiteSessionStore(path, timeout=30)
    else:
        url, namespace, session_id = arguments
        store = RedisSessionStore(url, namespace=namespace)
    async with store:
        client = Aether(FakeProvider(responder=echo, delay=0.002), memory_store=store)
        session = client.session(session_id, system="shared system")
        async with anyio.create_task_group() as group:
            for index in range(TURNS):
                group.start_soon(session.ask, f"{label}-{index}")


if __name__ == "__main__":
    label, backend, kind, *rest = sys.argv[1:]
    print("ready", flush=True)
    sys.stdin.readline()
    anyio.run(main, label, kind, rest, backend=backend)
    print("done", flush=True)
