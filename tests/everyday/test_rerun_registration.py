"""Re-running a notebook cell, or reloading a module, re-registers its definitions."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import anyio
import pytest

from aether import ConfigurationError, register, register_provider, register_tool
from aether.errors import ToolError
from aether.registry import PROVIDER_KIND, registry
from aether.tools import dispatch_tool

CELL = """
from aether import register, register_provider, register_tool

@register_tool(description="Add two numbers, plus an offset")
def add(a: int, b: int) -> int:
    return a + b + OFFSET

@register_provider("cell_provider")
class CellProvider:
    async def complete(self, request): ...

@register("vector_store", "cell_store")
class CellStore:
    pass
"""


def run_cell(offset: int) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "__main__", "OFFSET": offset}
    exec(compile(CELL, "<cell>", "exec"), namespace)
    return namespace


def test_running_a_cell_twice_replaces_its_registrations() -> None:
    run_cell(0)
    second = run_cell(100)  # the same definitions again: no "already registered"
    assert registry.get("tool", "add").target is second["add"]
    assert registry.get(PROVIDER_KIND, "cell_provider").target is second["CellProvider"]
    assert registry.get("vector_store", "cell_store").target is second["CellStore"]
    result = anyio.run(dispatch_tool, "add", {"a": 1, "b": 2})
    assert result.content == "103"  # the tool runs the newest definition


def test_importlib_reload_replaces_the_module_s_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_file = tmp_path / "reloaded_tools.py"
    source = (
        'from aether import register_tool\n\n@register_tool\ndef greet() -> str:\n    return "{}"\n'
    )
    module_file.write_text(source.format("first"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("reloaded_tools")
    try:
        module_file.write_text(source.format("second, longer"))
        importlib.invalidate_caches()
        reloaded = importlib.reload(module)
        assert registry.get("tool", "greet").target is reloaded.greet
        assert anyio.run(dispatch_tool, "greet", {}).content == "second, longer"
    finally:
        sys.modules.pop("reloaded_tools", None)


def test_another_function_under_a_taken_name_still_fails() -> None:
    @register_tool(name="lookup")
    def lookup_customer() -> str:
        return "customer"

    def lookup_order() -> str:
        return "order"

    with pytest.raises(ToolError, match=r"already registered by .*lookup_customer"):
        register_tool(name="lookup")(lookup_order)

    @register_provider("twin")
    class First:
        async def complete(self, request: object) -> None: ...

    class Second:
        async def complete(self, request: object) -> None: ...

    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider("twin")(Second)
    register("vector_store", "twin")(First)
    with pytest.raises(ConfigurationError, match="already registered"):
        register("vector_store", "twin")(Second)
