"""What the SQLite store adds to the conformance suite: durability, WAL, corruption."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aether import Aether, ConfigurationError, SessionCorruptedError, SessionError
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory.sqlite import SQLiteSessionStore
from aether.llm.contracts import Message


async def test_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteSessionStore(path) as store:
        await (
            Aether(FakeProvider("Hi Alice."), memory_store=store)
            .session("alice", system="You are helpful.")
            .ask("My name is Alice.")
        )
    async with SQLiteSessionStore(path) as reopened:
        assert await reopened.load("alice") == [
            Message(role="system", content="You are helpful."),
            Message(role="user", content="My name is Alice."),
            Message(role="assistant", content="Hi Alice."),
        ]


async def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteSessionStore(path) as store:
        await store.save("s", [Message(role="user", content="hi")])
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_corrupt_row_raises_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteSessionStore(path) as store:
        await store.save("s", [Message(role="user", content="hi")])
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE aether_session_messages SET data = '{broken'")
    async with SQLiteSessionStore(path) as store:
        session = Aether(FakeProvider("ok"), memory_store=store).session("s")
        with pytest.raises(SessionCorruptedError, match="'s'") as caught:
            await session.ask("next")
        assert caught.value.session_id == "s"
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT data FROM aether_session_messages").fetchall() == [
            ("{broken",)
        ]


DEEP = '{"v": 1, "message": {"role": "user", "x": ' + "[" * 100_000 + "]" * 100_000 + "}}"


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (DEEP, "nested too deeply"),
        (b'{"v": 1, "message": {"role": "user", "content": "caf\xe9"}}', "not UTF-8"),
    ],
    ids=["nested-too-deeply", "not-utf8"],
)
async def test_an_unreadable_record_is_corrupted_naming_it(
    tmp_path: Path, stored: str | bytes, reason: str
) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteSessionStore(path) as store:
        await store.save(
            "s", [Message(role="user", content="hi"), Message(role="user", content="x")]
        )
    with sqlite3.connect(path) as connection:
        # Stored as TEXT, as another program with another encoding (or damage) leaves it.
        connection.execute(
            "UPDATE aether_session_messages SET data = CAST(? AS TEXT) WHERE position = 1",
            (stored,),
        )
    async with SQLiteSessionStore(path) as store:
        with pytest.raises(SessionCorruptedError, match=reason) as caught:
            await store.load("s")
    assert (caught.value.session_id, caught.value.record) == ("s", 1)
    assert "'s'" in str(caught.value)
    assert "record 1 of 2" in str(caught.value)


async def test_a_file_that_is_not_a_database_raises_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    path.write_bytes(b"this is not an sqlite database, not at all" * 100)
    async with SQLiteSessionStore(path) as store:
        with pytest.raises(SessionCorruptedError, match="not a readable database"):
            await store.load("s")


async def test_an_unwritable_location_raises_session_error(tmp_path: Path) -> None:
    async with SQLiteSessionStore(tmp_path / "missing" / "dir" / "sessions.db") as store:
        with pytest.raises(SessionError, match="could not load session 's'"):
            await store.load("s")


async def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    await store.save("s", [Message(role="user", content="hi")])
    await store.aclose()
    with pytest.raises(SessionError, match="closed"):
        await store.load("s")


async def test_a_custom_table_keeps_its_own_histories(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with (
        SQLiteSessionStore(path) as default,
        SQLiteSessionStore(path, table="other") as other,
    ):
        await default.save("s", [Message(role="user", content="default")])
        await other.save("s", [Message(role="user", content="other")])
        assert await default.load("s") == [Message(role="user", content="default")]
        assert await other.load("s") == [Message(role="user", content="other")]


def test_a_table_name_that_is_not_an_identifier_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a plain SQL identifier"):
        SQLiteSessionStore(tmp_path / "x.db", table="x; DROP TABLE y")
