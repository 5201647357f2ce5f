"""`SQLiteSessionStore`: durable histories on one machine, with nothing to install.

The standard library's ``sqlite3`` runs in worker threads through `anyio.to_thread`, so
the store works on asyncio and trio and never blocks the event loop. One connection per
store, used by one thread at a time: a thread lock guards it, and a one-token capacity
limiter per event loop queues each loop's callers without holding a thread each, so a
store serves successive event loops (and several at once). The database is in WAL
mode, so readers never wait for writers, and several processes can share one file:
each write is an ``IMMEDIATE`` transaction, and a writer waits up to ``timeout`` seconds
for another to finish.

One row per message: ``(session_id, position, data)``, ``data`` being the versioned JSON
of `aether.memory.codec`. Appending a turn inserts two rows in one transaction.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TypeVar

import anyio
import anyio.to_thread

from aether._loop_binding import PerLoop
from aether.errors import ConfigurationError, SessionCorruptedError, SessionError
from aether.llm.contracts import Message
from aether.memory.codec import decode_messages, encode_message

__all__ = ["SQLiteSessionStore"]

_T = TypeVar("_T")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class SQLiteSessionStore:
    """Keeps histories in an SQLite database file; they survive a restart.

    ::

        store = SQLiteSessionStore("sessions.db")
        client = Aether(memory_store=store)
        ...
        await store.aclose()

    Args:
        path: The database file (created if missing), or ``":memory:"``.
        table: The table to use (created if missing); a plain SQL identifier.
        timeout: Seconds a write waits for another process's write to finish.

    Raises:
        ConfigurationError: If ``table`` is not a plain identifier.
    """

    __slots__ = ("_closed", "_connection", "_guard", "_limiter", "path", "table", "timeout")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "aether_session_messages",
        timeout: float = 5.0,
    ) -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise ConfigurationError(
                f"table {table!r} is not a plain SQL identifier (letters, digits, _)"
            )
        self.path = os.fspath(path)
        self.table = table
        self.timeout = timeout
        self._connection: sqlite3.Connection | None = None
        self._limiter = PerLoop(lambda: anyio.CapacityLimiter(1))
        self._guard = threading.Lock()
        self._closed = False

    # -- running in a worker thread -------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "session_id TEXT NOT NULL, position INTEGER NOT NULL, data TEXT NOT NULL, "
                "PRIMARY KEY (session_id, position)) WITHOUT ROWID"
            )
        except BaseException:
            connection.close()
            raise
        return connection

    async def _run(
        self, session_id: str, action: str, work: Callable[[sqlite3.Connection], _T]
    ) -> _T:
        closed = SessionError(f"this SQLiteSessionStore ({self.path}) is closed; make a new one")
        if self._closed:
            raise closed

        def job() -> _T:
            with self._guard:
                if self._closed:
                    raise closed
                if self._connection is None:
                    self._connection = self._open()
                return work(self._connection)

        try:
            # A cancelled caller still waits for the thread: a write finishes or rolls back.
            return await anyio.to_thread.run_sync(job, limiter=self._limiter.get())
        except sqlite3.OperationalError as error:
            raise SessionError(
                f"SQLite could not {action} session {session_id!r} in {self.path}: {error}; "
                f"check the file's permissions and disk space, or raise timeout= if another "
                f"process holds the database"
            ) from error
        except sqlite3.DatabaseError as error:
            raise SessionCorruptedError(
                f"SQLite could not {action} session {session_id!r}: {self.path} is not a "
                f"readable database ({error}); restore it from a backup or point the store "
                f"at a new file",
                session_id=session_id,
            ) from error

    @staticmethod
    def _transaction(connection: sqlite3.Connection, work: Callable[[], None]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            work()
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _insert(
        self,
        connection: sqlite3.Connection,
        session_id: str,
        start: int,
        messages: Sequence[Message],
    ) -> None:
        connection.executemany(
            f"INSERT INTO {self.table} (session_id, position, data) VALUES (?, ?, ?)",
            [
                (session_id, start + offset, encode_message(message))
                for offset, message in enumerate(messages)
            ],
        )

    # -- the SessionStore methods ---------------------------------------------------------

    async def load(self, session_id: str) -> list[Message]:
        """The stored history, oldest first; ``[]`` when there is none.

        Raises:
            SessionCorruptedError: If a stored message cannot be read.
        """

        def work(connection: sqlite3.Connection) -> list[str]:
            rows = connection.execute(
                f"SELECT data FROM {self.table} WHERE session_id = ? ORDER BY position",
                (session_id,),
            ).fetchall()
            return [row[0] for row in rows]

        return decode_messages(session_id, await self._run(session_id, "load", work))

    async def save(self, session_id: str, messages: Sequence[Message]) -> None:
        """Replace the whole history in one transaction (``[]`` deletes it)."""
        messages = list(messages)

        def work(connection: sqlite3.Connection) -> None:
            def replace() -> None:
                connection.execute(f"DELETE FROM {self.table} WHERE session_id = ?", (session_id,))
                self._insert(connection, session_id, 0, messages)

            self._transaction(connection, replace)

        await self._run(session_id, "save", work)

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        prefix_if_new: Sequence[Message] = (),
    ) -> None:
        """Add ``messages`` at the end in one transaction; ``prefix_if_new`` first if new."""
        if not messages:
            return
        messages = list(messages)
        prefix = list(prefix_if_new)

        def work(connection: sqlite3.Connection) -> None:
            def extend() -> None:
                (last,) = connection.execute(
                    f"SELECT MAX(position) FROM {self.table} WHERE session_id = ?", (session_id,)
                ).fetchone()
                items = messages if last is not None else [*prefix, *messages]
                self._insert(connection, session_id, 0 if last is None else last + 1, items)

            self._transaction(connection, extend)

        await self._run(session_id, "append to", work)

    async def delete(self, session_id: str) -> None:
        """Remove the history; an unknown id is not an error."""

        def work(connection: sqlite3.Connection) -> None:
            connection.execute(f"DELETE FROM {self.table} WHERE session_id = ?", (session_id,))

        await self._run(session_id, "delete", work)

    async def exists(self, session_id: str) -> bool:
        """Whether at least one message is stored under ``session_id``."""

        def work(connection: sqlite3.Connection) -> bool:
            row = connection.execute(
                f"SELECT 1 FROM {self.table} WHERE session_id = ? LIMIT 1", (session_id,)
            ).fetchone()
            return row is not None

        return await self._run(session_id, "check", work)

    # -- lifecycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the database connection. Calling it twice does nothing more."""
        if self._closed:
            return
        self._closed = True

        def close() -> None:
            with self._guard:
                connection, self._connection = self._connection, None
                if connection is not None:
                    connection.close()

        await anyio.to_thread.run_sync(close, limiter=self._limiter.get())

    async def __aenter__(self) -> SQLiteSessionStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SQLiteSessionStore({self.path!r}, table={self.table!r})"
