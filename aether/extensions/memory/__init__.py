"""Session stores: in memory (the default), SQLite (one machine), Redis (many processes).

::

    from aether.extensions.memory import InMemorySessionStore

    store = InMemorySessionStore()
    client_a = Aether(memory_store=store)
    client_b = Aether(memory_store=store)   # both see the same session("alice") history

`SQLiteSessionStore` and `RedisSessionStore` are imported on first use, so
``import aether`` pays for neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aether.extensions.memory.in_memory import InMemorySessionStore

if TYPE_CHECKING:
    from aether.extensions.memory.redis import RedisSessionStore
    from aether.extensions.memory.sqlite import SQLiteSessionStore

__all__ = ["InMemorySessionStore", "RedisSessionStore", "SQLiteSessionStore"]

_LAZY = {
    "RedisSessionStore": "aether.extensions.memory.redis",
    "SQLiteSessionStore": "aether.extensions.memory.sqlite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
