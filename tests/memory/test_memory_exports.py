"""The public surface of sessions and stores: sorted, resolvable, at the spec's paths."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = [
    "aether.memory",
    "aether.memory.codec",
    "aether.memory.contracts",
    "aether.memory.session",
    "aether.memory.window",
    "aether.extensions.memory",
    "aether.extensions.memory.in_memory",
    "aether.extensions.memory.redis",
    "aether.extensions.memory.sqlite",
    "aether.extensions.redis",
    "aether.testing.redis_server",
    "aether.testing.store_conformance",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    for attribute in exported:
        assert getattr(module, attribute) is not None


def test_spec_import_paths_work() -> None:
    from aether import SessionStore
    from aether.extensions.memory import InMemorySessionStore, RedisSessionStore
    from aether.extensions.memory import SQLiteSessionStore as Lazy
    from aether.extensions.memory.sqlite import SQLiteSessionStore

    assert Lazy is SQLiteSessionStore
    assert isinstance(InMemorySessionStore(), SessionStore)
    assert RedisSessionStore.__name__ == "RedisSessionStore"


def test_unknown_attributes_of_the_store_package_raise() -> None:
    import aether.extensions.memory as memory

    with pytest.raises(AttributeError, match="NoSuchStore"):
        memory.NoSuchStore  # noqa: B018


def test_import_aether_loads_neither_sqlite_nor_the_redis_client() -> None:
    code = (
        "import sys, aether; "
        "print(sorted(name for name in sys.modules if name in "
        "('sqlite3', 'aether.extensions.memory.sqlite', 'aether.extensions.memory.redis', "
        "'aether.extensions.redis')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
