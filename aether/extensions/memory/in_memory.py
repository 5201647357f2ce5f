"""`InMemorySessionStore`: histories in a dict, for one process (the default store)."""

from __future__ import annotations

from collections.abc import Sequence

from aether.llm.contracts import Message

__all__ = ["InMemorySessionStore"]


class InMemorySessionStore:
    """Keeps histories in memory; share one across clients with ``Aether(memory_store=...)``.

    No method awaits anything, so each is atomic on its event loop (and costs no trip
    through the scheduler). Messages are immutable, so nothing is copied but the list handed out.
    Histories are lost when the process ends; use `SQLiteSessionStore` or
    `RedisSessionStore` to keep them.
    """

    __slots__ = ("_histories",)

    def __init__(self) -> None:
        self._histories: dict[str, tuple[Message, ...]] = {}

    async def load(self, session_id: str) -> list[Message]:
        """The stored history, oldest first; ``[]`` when there is none."""
        return list(self._histories.get(session_id, ()))

    async def save(self, session_id: str, messages: Sequence[Message]) -> None:
        """Replace the history (``[]`` deletes it)."""
        if messages:
            self._histories[session_id] = tuple(messages)
        else:
            self._histories.pop(session_id, None)

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        prefix_if_new: Sequence[Message] = (),
    ) -> None:
        """Add ``messages`` at the end; ``prefix_if_new`` first if the history is empty."""
        if not messages:
            return
        current = self._histories.get(session_id) or tuple(prefix_if_new)
        self._histories[session_id] = (*current, *messages)

    async def delete(self, session_id: str) -> None:
        """Remove the history; an unknown id is not an error."""
        self._histories.pop(session_id, None)

    async def exists(self, session_id: str) -> bool:
        """Whether a history is stored under ``session_id``."""
        return session_id in self._histories

    def __len__(self) -> int:
        return len(self._histories)

    def __repr__(self) -> str:
        return f"InMemorySessionStore(sessions={len(self._histories)})"
