"""The conformance suite every session store passes: run it against your own.

::

    import pytest
    from aether.testing.store_conformance import SessionStoreConformance

    class TestMyStore(SessionStoreConformance):
        @pytest.fixture
        async def store(self):
            store = MyStore(...)
            yield store
            await store.aclose()

Collect it with pytest and the anyio plugin (installed with anyio). The append tests
skip for a store without ``append``; such a store is safe within one process only (see
`aether.memory.contracts`). Ids are random, so a shared database is fine.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import anyio
import pytest

from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCall,
)
from aether.memory.contracts import AppendableSessionStore

__all__ = ["SessionStoreConformance", "sample_history"]


_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
_WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
_PDF = b"%PDF-1.7\n" + bytes(range(255, -1, -1))


def sample_history() -> list[Message]:
    """A history that uses every field of `Message` and every kind of part, with text that
    JSON must escape and bytes that are not text."""
    return [
        Message(role="system", content="You are terse."),
        Message(role="developer", content="Answer in French."),
        Message(role="user", content='Ünïcödé, "quotes", \\ back\nslash\ttab, emoji 🎉'),
        Message(
            role="user",
            content=(
                TextPart(text="What is in these?"),
                ImagePart(data=_PNG, detail="high"),
                ImagePart(url="https://example.com/cat.jpg?size=large"),
                AudioPart(data=_WAV),
                DocumentPart(data=_PDF, name="q3 report.pdf"),
                DocumentPart(data=b"plain notes", media_type="text/plain"),
            ),
        ),
        Message(
            role="assistant",
            content=(
                ReasoningPart(text="Let me look.", signature="RXh0ZW5kZWQ=", provider="anthropic"),
                ReasoningPart(signature="cmVkYWN0ZWQ=", redacted=True, provider="anthropic"),
                ProviderPart(
                    provider="anthropic",
                    kind="server_tool_use",
                    data={"id": "srv_1", "input": {"query": "cats"}, "name": "web_search"},
                ),
                TextPart(text="Checking.", signature="Z2VtaW5p"),
            ),
            tool_calls=(
                ToolCall(id="c0", name="lookup", arguments={"q": "cat"}, signature="dGhvdWdodA=="),
            ),
        ),
        Message(
            role="tool",
            content=(TextPart(text="a chart"), ImagePart(data=_PNG)),
            tool_call_id="c0",
            name="lookup",
        ),
        Message(
            role="assistant",
            content="",
            tool_calls=(
                ToolCall(id="c1", name="add", arguments={"a": 2, "b": [1, {"x": None}]}),
                ToolCall(id="c2", name="broken", raw_arguments="{not json"),
            ),
        ),
        Message(role="tool", content="5", tool_call_id="c1", name="add"),
        Message(role="assistant", content="The answer is 5."),
    ]


def _id(label: str = "s") -> str:
    return f"conformance-{label}-{uuid.uuid4().hex}"


def _turn(index: int) -> tuple[Message, Message]:
    return (
        Message(role="user", content=f"question {index}"),
        Message(role="assistant", content=f"answer {index}"),
    )


class SessionStoreConformance:
    """Subclass it and define an async ``store`` fixture yielding a fresh store."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    async def store(self) -> Any:
        raise NotImplementedError("define an async `store` fixture that yields your store")

    @staticmethod
    def _appendable(store: Any) -> AppendableSessionStore:
        if not isinstance(store, AppendableSessionStore):
            pytest.skip(f"{type(store).__name__} has no append(); it is safe in one process only")
        return store

    # -- load, save, delete, exists -------------------------------------------------------

    async def test_load_of_unknown_session_is_empty(self, store: Any) -> None:
        assert await store.load(_id()) == []

    async def test_save_then_load_round_trips_every_field(self, store: Any) -> None:
        session_id = _id()
        await store.save(session_id, sample_history())
        assert await store.load(session_id) == sample_history()

    async def test_save_replaces_the_whole_history(self, store: Any) -> None:
        session_id = _id()
        await store.save(session_id, sample_history())
        await store.save(session_id, [Message(role="user", content="only me")])
        assert await store.load(session_id) == [Message(role="user", content="only me")]

    async def test_saving_an_empty_history_deletes_it(self, store: Any) -> None:
        session_id = _id()
        await store.save(session_id, sample_history())
        await store.save(session_id, [])
        assert await store.load(session_id) == []
        assert await store.exists(session_id) is False

    async def test_exists_follows_save_and_delete(self, store: Any) -> None:
        session_id = _id()
        assert await store.exists(session_id) is False
        await store.save(session_id, sample_history())
        assert await store.exists(session_id) is True
        await store.delete(session_id)
        assert await store.exists(session_id) is False
        assert await store.load(session_id) == []

    async def test_a_large_image_round_trips_byte_for_byte(self, store: Any) -> None:
        session_id = _id()
        image = ImagePart(data=_PNG + bytes(range(256)) * 4_096)  # 1 MB and a bit
        turn = [Message(role="user", content=("Describe it.", image))]
        await store.save(session_id, turn)
        loaded = await store.load(session_id)
        assert loaded == turn
        restored = loaded[0].parts[1]
        assert isinstance(restored, ImagePart)
        assert restored.data == image.data

    async def test_deleting_an_unknown_session_does_nothing(self, store: Any) -> None:
        await store.delete(_id())

    async def test_sessions_are_isolated(self, store: Any) -> None:
        first, second = _id("a"), _id("b")
        await store.save(first, [Message(role="user", content="first")])
        await store.save(second, [Message(role="user", content="second")])
        await store.delete(first)
        assert await store.load(first) == []
        assert await store.load(second) == [Message(role="user", content="second")]

    async def test_ids_with_separators_never_collide(self, store: Any) -> None:
        base = _id()
        ids = [base, f"{base}:b", f"{base}/b", f"{base} b", f"{base}:session:b", f"{base}é"]
        for index, session_id in enumerate(ids):
            await store.save(session_id, [Message(role="user", content=str(index))])
        for index, session_id in enumerate(ids):
            assert await store.load(session_id) == [Message(role="user", content=str(index))]

    async def test_loaded_list_belongs_to_the_caller(self, store: Any) -> None:
        session_id = _id()
        await store.save(session_id, sample_history())
        loaded = await store.load(session_id)
        loaded.append(Message(role="user", content="not stored"))
        assert await store.load(session_id) == sample_history()

    async def test_long_history_keeps_its_order(self, store: Any) -> None:
        session_id = _id()
        history = [Message(role="user", content=f"m{index}") for index in range(2500)]
        await store.save(session_id, history)
        assert await store.load(session_id) == history

    async def test_concurrent_saves_leave_one_whole_history(self, store: Any) -> None:
        session_id = _id()
        versions = [
            [Message(role="user", content=f"v{version}-{index}") for index in range(20)]
            for version in range(10)
        ]
        async with anyio.create_task_group() as group:
            for history in versions:
                group.start_soon(store.save, session_id, history)
        assert await store.load(session_id) in versions

    # -- append -------------------------------------------------------------------------

    async def test_append_adds_to_the_end(self, store: Any) -> None:
        appendable = self._appendable(store)
        session_id = _id()
        await appendable.save(session_id, sample_history())
        await appendable.append(session_id, _turn(1))
        assert await appendable.load(session_id) == [*sample_history(), *_turn(1)]

    async def test_append_writes_the_prefix_only_when_new(self, store: Any) -> None:
        appendable = self._appendable(store)
        session_id = _id()
        system = Message(role="system", content="be brief")
        await appendable.append(session_id, _turn(1), prefix_if_new=[system])
        await appendable.append(session_id, _turn(2), prefix_if_new=[system])
        assert await appendable.load(session_id) == [system, *_turn(1), *_turn(2)]

    async def test_append_of_nothing_stores_nothing(self, store: Any) -> None:
        appendable = self._appendable(store)
        session_id = _id()
        system = Message(role="system", content="be brief")
        await appendable.append(session_id, [], prefix_if_new=[system])
        assert await appendable.exists(session_id) is False

    async def test_concurrent_appends_keep_each_turn_together(self, store: Any) -> None:
        appendable = self._appendable(store)
        session_id = _id()
        async with anyio.create_task_group() as group:
            for index in range(50):
                group.start_soon(appendable.append, session_id, _turn(index))
        history = await appendable.load(session_id)
        assert len(history) == 100
        pairs = [tuple(history[position : position + 2]) for position in range(0, 100, 2)]
        assert sorted(pairs, key=lambda pair: int(pair[0].text.split()[1])) == [
            _turn(index) for index in range(50)
        ]

    async def test_concurrent_appends_to_a_new_session_write_the_prefix_once(
        self, store: Any
    ) -> None:
        appendable = self._appendable(store)
        session_id = _id()
        system = Message(role="system", content="be brief")
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(
                    partial(appendable.append, session_id, _turn(index), prefix_if_new=[system])
                )
        history = await appendable.load(session_id)
        assert history[0] == system
        assert [message.role for message in history].count("system") == 1
        assert len(history) == 41
