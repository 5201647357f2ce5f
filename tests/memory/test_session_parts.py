"""Sessions with content parts: prompts of parts, answers stored with their parts, and a
conversation resumed by another process sending them back exactly."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from aether import (
    Aether,
    ConfigurationError,
    ImagePart,
    LLMResponse,
    Message,
    ProviderPart,
    ReasoningPart,
    TextPart,
)
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory import InMemorySessionStore
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.memory import HistoryWindow, approximate_tokens

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
IMAGE = ImagePart(data=PNG)
THOUGHT = ReasoningPart(text="Small image.", signature="c2lnbmVk", provider="anthropic")
SEARCH = ProviderPart(provider="anthropic", kind="server_tool_use", data={"id": "s1"})
SIGNED_ANSWER = LLMResponse(
    text="A tiny picture.",
    model="fake-model",
    parts=(THOUGHT, SEARCH, TextPart(text="A tiny picture.")),
)
WORKER = Path(__file__).with_name("_parts_worker.py")


async def test_a_prompt_of_parts_and_the_answers_parts_are_stored() -> None:
    store = InMemorySessionStore()
    client = Aether(FakeProvider(responses=[SIGNED_ANSWER]), memory_store=store)
    answer = await client.session("s").ask(["What is this?", IMAGE])
    assert answer == "A tiny picture."
    assert await store.load("s") == [
        Message(role="user", content=(TextPart(text="What is this?"), IMAGE)),
        Message(role="assistant", content=SIGNED_ANSWER.parts),
    ]


async def test_a_streamed_answer_is_stored_with_the_parts_of_its_final_chunk() -> None:
    store = InMemorySessionStore()
    client = Aether(FakeProvider(responses=[SIGNED_ANSWER]), memory_store=store)
    chunks = [chunk async for chunk in client.session("s").stream([IMAGE, "And this?"])]
    kinds = [chunk.kind for chunk in chunks[:-1]]
    assert kinds == ["reasoning", "reasoning", "text", "text", "text"]
    assert (await store.load("s"))[-1] == Message(role="assistant", content=SIGNED_ANSWER.parts)


async def test_the_next_turn_sends_the_stored_parts_back_exactly() -> None:
    fake = FakeProvider(responses=[SIGNED_ANSWER, "Yes."])
    session = Aether(fake).session("s")
    await session.ask(["What is this?", IMAGE])
    await session.ask("Is it small?")
    sent = fake.last_request.messages
    assert sent[0].content == (TextPart(text="What is this?"), IMAGE)
    assert sent[1].content == SIGNED_ANSWER.parts


async def test_an_answer_of_reasoning_alone_is_not_stored() -> None:
    silent = LLMResponse(text="", model="m", parts=(THOUGHT,))
    store = InMemorySessionStore()
    await Aether(FakeProvider(responses=[silent]), memory_store=store).session("s").ask("hm")
    assert await store.load("s") == []


async def test_an_answer_of_media_alone_is_stored() -> None:
    drawn = LLMResponse(text="", model="m", parts=(IMAGE,))
    store = InMemorySessionStore()
    await Aether(FakeProvider(responses=[drawn]), memory_store=store).session("s").ask("draw")
    assert (await store.load("s"))[-1] == Message(role="assistant", content=(IMAGE,))


@pytest.mark.parametrize("prompt", [b"bytes", 42, [], [{"type": "wizard"}]])
async def test_a_prompt_that_is_not_content_is_refused_with_the_fix(prompt: object) -> None:
    session = Aether(FakeProvider()).session("s")
    with pytest.raises(ConfigurationError, match=r"session\.ask"):
        await session.ask(prompt)  # type: ignore[arg-type]


def test_the_history_window_counts_an_image_as_a_fixed_estimate() -> None:
    with_image = approximate_tokens(Message(role="user", content=["hi", IMAGE]))
    assert with_image == approximate_tokens(Message(role="user", content="hi")) + 1_600
    window = HistoryWindow(max_tokens=2_000)
    history = [
        Message(role="user", content=["old", IMAGE]),
        Message(role="assistant", content="an old answer"),
        Message(role="user", content="newer"),
        Message(role="assistant", content="a newer answer"),
    ]
    prompt = Message(role="user", content=["now", IMAGE])
    assert window.select(history, fixed=[prompt]) == history[2:]


def resume(store_arguments: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER), *store_arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def continue_and_check(
    store: SQLiteSessionStore | RedisSessionStore, session_id: str
) -> None:
    from _parts_worker import ANSWER, PNG

    fake = FakeProvider(responses=["Yes, a gradient."])
    session = Aether(fake, memory_store=store).session(session_id)
    await session.ask("Is it a gradient?")
    sent = fake.last_request.messages
    assert sent[1] == Message(role="user", content=("What is this?", ImagePart(data=PNG)))
    assert sent[2] == Message(role="assistant", content=ANSWER.parts)
    assert (await store.load(session_id))[-1].text == "Yes, a gradient."


@pytest.mark.slow
async def test_a_session_resumed_by_another_process_through_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    resume(["sqlite", str(path), "pictures"])
    async with SQLiteSessionStore(path) as store:
        await continue_and_check(store, "pictures")


@pytest.mark.slow
@pytest.mark.redis
async def test_a_session_resumed_by_another_process_through_redis(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    resume(["redis", redis_url, namespace, "pictures"])
    async with RedisSessionStore(redis_url, namespace=namespace) as store:
        await continue_and_check(store, "pictures")
