"""One OS process of the resume test: a turn with an image, answered with signed reasoning.

Usage: python _parts_worker.py sqlite PATH SESSION_ID
       python _parts_worker.py redis URL NAMESPACE SESSION_ID

Runs one session turn on trio and exits; the test resumes the session in its own process.
"""

from __future__ import annotations

import sys

import anyio

from aether import Aether, ImagePart, LLMResponse, ReasoningPart, TextPart
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 256
ANSWER = LLMResponse(
    text="A gradient.",
    model="fake-model",
    parts=(
        ReasoningPart(text="Bytes rise 0 to 255.", signature="U2lnbmVkIQ==", provider="fake"),
        TextPart(text="A gradient."),
    ),
)


async def main(kind: str, arguments: list[str]) -> None:
    store: SQLiteSessionStore | RedisSessionStore
    if kind == "sqlite":
        path, session_id = arguments
        store = SQLiteSessionStore(path)
    else:
        url, namespace, session_id = arguments
        store = RedisSessionStore(url, namespace=namespace)
    async with store:
        client = Aether(FakeProvider(responses=[ANSWER]), memory_store=store)
        session = client.session(session_id, system="Describe images.")
        await session.ask(["What is this?", ImagePart(data=PNG)])


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    anyio.run(main, kind, rest, backend="trio")
