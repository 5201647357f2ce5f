"""Sessions: conversations that remember, and the `SessionStore` Protocol they use.

::

    session = client.session("user_alice", system="You are helpful.")
    await session.ask("My name is Alice.")
    await session.ask("What's my name?")   # the first turn is sent along

Stores live in `aether.extensions.memory` (in memory, SQLite, Redis); write your own
against `SessionStore` (see `aether.memory.contracts` for the rules).
"""

from aether.memory.contracts import AppendableSessionStore, SessionStore
from aether.memory.session import Session
from aether.memory.window import HistoryWindow, approximate_content_tokens, approximate_tokens

__all__ = [
    "AppendableSessionStore",
    "HistoryWindow",
    "Session",
    "SessionStore",
    "approximate_content_tokens",
    "approximate_tokens",
]
