"""One OS process of the cross-process cache test: 10 concurrent identical questions.

Usage: python _cache_worker.py BACKEND URL NAMESPACE

Prints "ready", waits for a line on stdin (so both processes start together), asks, then
prints how many provider calls this process made and the answers it got, as JSON.
"""

from __future__ import annotations

import json
import sys

import anyio

from aether import Aether
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.cache import RedisCacheBackend

QUESTIONS = 10


async def main(url: str, namespace: str) -> None:
    fake = FakeProvider(canned_response="the shared answer", delay=0.3)
    async with RedisCacheBackend(url, namespace=namespace) as backend:
        client = Aether(fake, cache=backend)
        answers: list[str] = []

        async def ask() -> None:
            answers.append(await client.ask("the same question"))

        async with anyio.create_task_group() as group:
            for _ in range(QUESTIONS):
                group.start_soon(ask)
    print(json.dumps({"provider_calls": len(fake.requests), "answers": answers}), flush=True)


if __name__ == "__main__":
    backend, url, namespace = sys.argv[1:]
    print("ready", flush=True)
    sys.stdin.readline()
    anyio.run(main, url, namespace, backend=backend)
