"""The `SessionStore` Protocol: what a session store implements, and the rules it keeps.

A store maps a session id to its history, a list of `Message` oldest first. Sessions call
it; you implement it to keep histories in your own database. The rules, which the
conformance suite (`aether.testing.store_conformance`) checks:

1. ``load`` returns the stored messages in order, or ``[]`` for an id never saved (or
   deleted). It never returns ``[]`` for a history it cannot read: it raises
   `SessionCorruptedError` naming the session, so no session overwrites a history it
   could not read.
2. ``save`` replaces the whole history. Saving ``[]`` is the same as ``delete``.
3. ``delete`` removes the history; deleting an unknown id does nothing.
4. ``exists`` is ``True`` while at least one message is stored.
5. Ids are opaque strings: two different ids never share a history, whatever characters
   they hold (``"a"``, ``"a:b"``, ``"a/b"``, ``"é"``).
6. The list ``load`` returns belongs to the caller: changing it changes nothing stored.
7. Failures of the backend raise `SessionError` (or a subclass), with a message saying
   what failed and what to do.

`AppendableSessionStore` adds ``append``, which sessions use when a store has it. It is
what makes a store safe for many processes at once: a turn (the user message and the
answer) is written in one atomic step, so concurrent writers never interleave two turns
and never lose one. A store with only the four methods of `SessionStore` still works; a
session then reads, extends and saves the whole history under its own lock, which is safe
within one process only.

The stores shipped with Aether keep messages as versioned JSON (`aether.memory.codec`),
so a later release can read what this one wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aether.llm.contracts import Message

__all__ = ["AppendableSessionStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """Where sessions keep their histories: four async methods, keyed by session id."""

    async def load(self, session_id: str) -> list[Message]:
        """The stored history, oldest first; ``[]`` when there is none.

        Raises:
            SessionCorruptedError: If a stored history exists but cannot be read.
            SessionError: If the backend failed.
        """
        ...

    async def save(self, session_id: str, messages: list[Message]) -> None:
        """Replace the whole history with ``messages`` (``[]`` deletes it)."""
        ...

    async def delete(self, session_id: str) -> None:
        """Remove the history; an unknown id is not an error."""
        ...

    async def exists(self, session_id: str) -> bool:
        """Whether at least one message is stored under ``session_id``."""
        ...


@runtime_checkable
class AppendableSessionStore(SessionStore, Protocol):
    """A `SessionStore` that appends atomically: safe for many processes at once."""

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        prefix_if_new: Sequence[Message] = (),
    ) -> None:
        """Add ``messages`` to the end of the history in one atomic step.

        Args:
            session_id: The session.
            messages: The messages to add, oldest first (a whole turn).
            prefix_if_new: Written before ``messages``, in the same step, only when the
                session has no stored message yet (the session's system message). Two
                writers racing on a new session write it once.

        Either every message is stored or none is, and no other writer's messages land
        between them. Keep it bounded in time: a session shields this call from
        cancellation so that a turn is written whole or not at all.
        """
        ...
