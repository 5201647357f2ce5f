"""Sessions through the facade: the spec's examples and the three guarantees."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from aether import Aether, ConfigurationError, ServerError, Session
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.extensions.memory import InMemorySessionStore
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import (
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    TokenCounts,
    ToolCall,
    ToolResult,
)
from aether.pipeline import CallNext

SYSTEM = Message(role="system", content="You are helpful.")


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


def remembers_names(request: LLMRequest) -> str:
    """Answers "What's my name?" only from a name found in the earlier turns sent."""
    last = request.messages[-1].content
    if last == "What's my name?":
        for message in request.messages[:-1]:
            if message.role == "user" and message.content.startswith("My name is "):
                return f"Your name is {message.content.removeprefix('My name is ')}"
        return "I don't know your name."
    return "Nice to meet you."


def echo(request: LLMRequest) -> str:
    return f"re: {request.messages[-1].content}"


# -- one object per id -----------------------------------------------------------------


def test_same_id_returns_the_same_session_object() -> None:
    client = Aether(FakeProvider("hi"))
    first = client.session("alice", system="You are helpful.")
    assert client.session("alice") is first
    assert client.session("alice", system="You are helpful.") is first
    assert client.session("bob") is not first


def test_reopening_with_another_system_message_is_refused() -> None:
    client = Aether(FakeProvider("hi"))
    session = client.session("alice", system="You are helpful.")
    with pytest.raises(ConfigurationError, match="already open"):
        client.session("alice", system="You are rude.")
    assert session.system == "You are helpful."


def test_reopening_with_the_same_caps_and_a_new_counter_lambda_is_allowed() -> None:
    client = Aether(FakeProvider("hi"))
    first = client.session("alice", max_history_tokens=100, count_tokens=lambda m: 1)
    again = client.session("alice", max_history_tokens=100, count_tokens=lambda m: 1)
    assert again is first
    with pytest.raises(ConfigurationError, match="history cap"):
        client.session("alice", max_history_tokens=200)


def test_an_empty_session_id_is_refused() -> None:
    client = Aether(FakeProvider("hi"))
    with pytest.raises(ValueError, match="non-empty string"):
        client.session("")


def test_default_store_is_a_fresh_in_memory_store_per_client() -> None:
    first, second = Aether(FakeProvider("hi")), Aether(FakeProvider("hi"))
    assert isinstance(first.memory_store, InMemorySessionStore)
    assert first.memory_store is not second.memory_store


# -- the spec's examples ---------------------------------------------------------------


async def test_name_is_answered_from_history() -> None:
    fake = FakeProvider(responder=remembers_names)
    client = Aether(fake)
    session = client.session("user_alice", system="You are helpful.")
    await session.ask("My name is Alice.")
    assert await session.ask("What's my name?") == "Your name is Alice."
    assert list(fake.requests[1].messages) == [
        SYSTEM,
        user("My name is Alice."),
        assistant("Nice to meet you."),
        user("What's my name?"),
    ]


async def test_streamed_final_text_is_saved_to_history() -> None:
    client = Aether(FakeProvider("Once upon a time, a fox."))
    session = client.session("user_alice", system="You are helpful.")
    deltas = [delta async for delta in session.stream_text("Tell me a story")]
    assert "".join(deltas) == "Once upon a time, a fox."
    assert len(deltas) == 6
    assert await session.history() == [
        SYSTEM,
        user("Tell me a story"),
        assistant("Once upon a time, a fox."),
    ]


async def test_two_clients_sharing_a_store_see_the_same_history() -> None:
    store = InMemorySessionStore()
    fake_b = FakeProvider(responder=remembers_names)
    client_a = Aether(FakeProvider("Nice to meet you."), memory_store=store)
    client_b = Aether(fake_b, memory_store=store)
    await client_a.session("alice").ask("My name is Alice.")
    assert await client_b.session("alice").ask("What's my name?") == "Your name is Alice."
    assert await client_a.session("alice").history() == await client_b.session("alice").history()
    assert len(await client_a.session("alice").history()) == 4


# -- guarantee 1: tool dispatches stay out of history --------------------------------------

TOOL_TURNS = (
    Message(role="assistant", tool_calls=(ToolCall(id="c1", name="add", arguments={"a": 17}),)),
    Message(role="tool", content="42", tool_call_id="c1", name="add"),
)


async def test_tool_turns_stay_out_of_history() -> None:
    final = LLMResponse(
        text="The answer is 42.",
        model="fake-model",
        tool_messages=TOOL_TURNS,
        tool_calls=(),
    )
    session = Aether(FakeProvider(responses=[final])).session("s", system="You are helpful.")
    assert await session.ask("What's 17+25?") == "The answer is 42."
    assert await session.history() == [
        SYSTEM,
        user("What's 17+25?"),
        assistant("The answer is 42."),
    ]


class ToolLoopStream:
    """Streams like the tool loop does: text, a tool call and its result, text, final."""

    name = "tool-stream"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise AssertionError("this test streams")

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        call = ToolCall(id="c1", name="add", arguments={"a": 17, "b": 25})
        yield StreamChunk(text="Let me add those. ")
        yield StreamChunk(kind="tool_call", tool_call=call)
        yield StreamChunk(
            kind="tool_result", tool_result=ToolResult(call_id="c1", name="add", content="42")
        )
        yield StreamChunk(text="The answer ")
        yield StreamChunk(text="is 42.")
        yield StreamChunk(finish_reason="stop", model="m", tokens=TokenCounts(input=3, output=4))


async def test_streamed_tool_chunks_stay_out_of_history() -> None:
    session = Aether(ToolLoopStream(), stack=[]).session("s")
    kinds = [chunk.kind async for chunk in session.stream("What's 17+25?")]
    assert kinds == ["text", "tool_call", "tool_result", "text", "text", "text"]
    assert await session.history() == [user("What's 17+25?"), assistant("The answer is 42.")]


# -- guarantee 2: a failed turn leaves nothing behind ---------------------------------------


async def test_error_mid_call_leaves_no_user_message() -> None:
    fake = FakeProvider(responses=["first answer", ServerError("boom"), "third answer"])
    session = Aether(fake, with_retry=False).session("s")
    await session.ask("one")
    with pytest.raises(ServerError):
        await session.ask("two")
    assert await session.history() == [user("one"), assistant("first answer")]
    await session.ask("three")
    assert list(fake.last_request.messages) == [
        user("one"),
        assistant("first answer"),
        user("three"),
    ]


async def test_stream_broken_midway_leaves_no_user_message() -> None:
    fake = FakeProvider(responses=[StreamFault(ServerError("cut"), after_chunks=2), "fine"])
    session = Aether(fake).session("s")
    received: list[str] = []

    async def consume() -> None:
        async for delta in session.stream_text("tell me"):
            received.append(delta)

    with pytest.raises(ServerError):
        await consume()
    assert len(received) == 2
    assert await session.history() == []
    await session.ask("again")
    assert list(fake.last_request.messages) == [user("again")]


async def test_cancelled_call_leaves_no_user_message() -> None:
    fake = FakeProvider("slow answer", delay=5)
    session = Aether(fake).session("s")
    with anyio.move_on_after(0.05) as scope:
        await session.ask("hello?")
    assert scope.cancelled_caught
    assert await session.history() == []
    fake.delay = 0
    await session.ask("hello again")
    assert list(fake.last_request.messages) == [user("hello again")]


async def test_cancelled_stream_leaves_no_user_message() -> None:
    fake = FakeProvider("one two three four five six", chunk_delay=0.5)
    session = Aether(fake).session("s")
    with anyio.move_on_after(0.2) as scope:
        async with contextlib.aclosing(session.stream_text("count")) as stream:
            async for _delta in stream:
                pass
    assert scope.cancelled_caught
    assert await session.history() == []
    assert fake.open_streams == 0


async def test_stream_stopped_early_stores_nothing() -> None:
    session = Aether(FakeProvider("one two three")).session("s")
    async with contextlib.aclosing(session.stream_text("count")) as stream:
        async for _delta in stream:
            break
    assert await session.history() == []


async def test_stream_stopped_at_the_final_chunk_is_stored() -> None:
    session = Aether(FakeProvider("one two")).session("s")
    async with contextlib.aclosing(session.stream("count")) as stream:
        async for chunk in stream:
            if chunk.is_final:
                break
    assert await session.history() == [user("count"), assistant("one two")]


class SlowAppendStore(InMemorySessionStore):
    """Takes a while to write, so a cancellation can arrive in the middle."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = anyio.Event()

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        prefix_if_new: Sequence[Message] = (),
    ) -> None:
        self.writing.set()
        await anyio.sleep(0.2)
        await super().append(session_id, messages, prefix_if_new=prefix_if_new)


async def test_cancellation_during_the_save_still_stores_the_whole_turn() -> None:
    store = SlowAppendStore()
    session = Aether(FakeProvider("answer"), memory_store=store).session("s")
    async with anyio.create_task_group() as group:
        group.start_soon(session.ask, "question")
        await store.writing.wait()
        group.cancel_scope.cancel()
    assert await session.history() == [user("question"), assistant("answer")]


async def test_an_empty_answer_is_not_stored() -> None:
    session = Aether(FakeProvider(responses=["", "real"])).session("s")
    assert await session.ask("first") == ""
    assert await session.history() == []


# -- guarantee 3: concurrent turns are serialised --------------------------------------------


async def test_fifty_concurrent_asks_give_a_hundred_messages_in_order() -> None:
    fake = FakeProvider(responder=echo, delay=0.001)
    session = Aether(fake).session("s")
    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(session.ask, f"q{index}")
    history = await session.history()
    assert len(history) == 100
    assert [message.role for message in history] == ["user", "assistant"] * 50
    for position in range(0, 100, 2):
        assert history[position + 1].content == f"re: {history[position].content}"
    assert sorted(message.content for message in history[::2]) == sorted(
        f"q{index}" for index in range(50)
    )
    assert [len(request.messages) for request in fake.requests] == list(range(1, 100, 2))


# -- options, system message, clear -------------------------------------------------------


async def test_session_calls_accept_the_clients_per_call_options() -> None:
    seen: list[dict[str, Any]] = []

    async def spy(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        seen.append(dict(request.context))
        return await call_next(request)

    fake = FakeProvider("ok")
    session = Aether(fake).session("s")
    await session.ask(
        "hi",
        model="big-model",
        temperature=0.1,
        max_tokens=5,
        context={"user": "alice"},
        middleware=[spy],
    )
    request = fake.last_request
    assert (request.model, request.temperature, request.max_tokens) == ("big-model", 0.1, 5)
    assert seen == [{"user": "alice"}]


async def test_session_system_message_replaces_a_stored_one_in_requests() -> None:
    store = InMemorySessionStore()
    await store.save("s", [Message(role="system", content="old"), user("a"), assistant("b")])
    fake = FakeProvider("ok")
    await Aether(fake, memory_store=store).session("s", system="new").ask("c")
    assert fake.last_request.messages[0] == Message(role="system", content="new")
    assert (await store.load("s"))[0] == Message(role="system", content="old")


async def test_session_without_system_sends_the_stored_one() -> None:
    store = InMemorySessionStore()
    await store.save("s", [Message(role="system", content="stored"), user("a"), assistant("b")])
    fake = FakeProvider("ok")
    await Aether(fake, memory_store=store).session("s").ask("c")
    assert list(fake.last_request.messages) == [
        Message(role="system", content="stored"),
        user("a"),
        assistant("b"),
        user("c"),
    ]


async def test_clear_forgets_the_conversation_and_keeps_the_system_message() -> None:
    fake = FakeProvider("ok")
    session = Aether(fake).session("s", system="You are helpful.")
    await session.ask("one")
    await session.clear()
    assert await session.history() == []
    await session.ask("two")
    assert await session.history() == [SYSTEM, user("two"), assistant("ok")]


class MinimalStore:
    def __init__(self) -> None:
        self.data: dict[str, list[Message]] = {}

    async def load(self, session_id: str) -> list[Message]:
        return list(self.data.get(session_id, []))

    async def save(self, session_id: str, messages: list[Message]) -> None:
        self.data[session_id] = list(messages)

    async def delete(self, session_id: str) -> None:
        self.data.pop(session_id, None)

    async def exists(self, session_id: str) -> bool:
        return session_id in self.data


async def test_a_store_without_append_works_through_load_and_save() -> None:
    store = MinimalStore()
    session: Session = Aether(FakeProvider(responder=echo), memory_store=store).session(
        "s", system="You are helpful."
    )
    await session.ask("one")
    await session.ask("two")
    assert store.data["s"] == [SYSTEM, user("one"), assistant("re: one"), user("two"),
                               assistant("re: two")]  # fmt: skip


# -- the cap on what is sent ------------------------------------------------------------


async def test_max_history_messages_caps_what_is_sent_not_what_is_stored() -> None:
    fake = FakeProvider(responder=echo)
    session = Aether(fake).session("s", system="You are helpful.", max_history_messages=2)
    for index in range(4):
        await session.ask(f"q{index}")
    assert list(fake.last_request.messages) == [
        SYSTEM,
        user("q2"),
        assistant("re: q2"),
        user("q3"),
    ]
    assert len(await session.history()) == 9


async def test_max_history_tokens_drops_oldest_turns_and_keeps_the_system_message() -> None:
    fake = FakeProvider(responder=echo)
    session = Aether(fake).session(
        "s", system="You are helpful.", max_history_tokens=6, count_tokens=lambda _: 1
    )
    for index in range(5):
        await session.ask(f"q{index}")
    assert list(fake.last_request.messages) == [
        SYSTEM,
        user("q2"),
        assistant("re: q2"),
        user("q3"),
        assistant("re: q3"),
        user("q4"),
    ]
    assert len(await session.history()) == 11


# -- the same behaviour through every shipped store ---------------------------------------


# The tests name anyio_backend themselves: anyio's plugin rebuilds async test items that do
# not, and that drops every other parameter.
STORES = pytest.mark.parametrize("any_store", ["memory", "sqlite", "redis"], indirect=True)


@pytest.fixture
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    store: Any
    if request.param == "memory":
        store = InMemorySessionStore()
    elif request.param == "sqlite":
        store = SQLiteSessionStore(tmp_path / "sessions.db")
    else:
        url = request.getfixturevalue("redis_url")  # a sync fixture: skips without Redis
        store = RedisSessionStore(url, namespace=f"test-{uuid.uuid4().hex}")
    if hasattr(store, "__aenter__"):
        async with store:
            yield store
    else:
        yield store


@STORES
async def test_name_is_answered_from_history_in_every_store(
    any_store: Any, anyio_backend: str
) -> None:
    fake = FakeProvider(responder=remembers_names)
    session = Aether(fake, memory_store=any_store).session("alice", system="You are helpful.")
    await session.ask("My name is Alice.")
    assert await session.ask("What's my name?") == "Your name is Alice."
    assert len(await session.history()) == 5


@STORES
async def test_fifty_concurrent_asks_stay_in_order_in_every_store(
    any_store: Any, anyio_backend: str
) -> None:
    session = Aether(FakeProvider(responder=echo), memory_store=any_store).session("s")
    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(session.ask, f"q{index}")
    history = await session.history()
    assert [message.role for message in history] == ["user", "assistant"] * 50
    assert all(
        history[position + 1].content == f"re: {history[position].content}"
        for position in range(0, 100, 2)
    )
