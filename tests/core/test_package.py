"""The package surface: lazy vendor imports, sorted exports, import paths of the spec."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import aether

VENDOR_MODULES = (
    "openai", "google.genai", "anthropic", "redis", "coredis", "trio", "genai_prices",
    "mcp", "jsonschema", "asyncio"
)  # fmt: skip


def test_import_aether_pulls_in_no_vendor_sdk() -> None:
    code = (
        "import sys, aether, aether.llm.contracts, aether.events, aether.extensions.llm.fake\n"
        "import aether.mcp, aether.cli  # the mcp package loads when a toolset starts\n"
        f"loaded = [m for m in {VENDOR_MODULES[:-1]!r} if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_package_source_never_imports_asyncio() -> None:
    offenders = []
    for info in pkgutil.walk_packages(aether.__path__, "aether."):
        spec = importlib.util.find_spec(info.name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, encoding="utf-8") as handle:
            source = handle.read()
        if "import asyncio" in source or "from asyncio" in source:
            offenders.append(info.name)
    assert offenders == []


def public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(aether.__path__, "aether."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or info.name in ("aether.demo",):
            continue
        names.append(info.name)
    return ["aether", *names]


@pytest.mark.parametrize("name", public_modules())
def test_public_module_has_a_sorted_complete_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert not [n for n in vars(module) if not n.startswith("_") and _defined_here(module, n)]
        return
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == []


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then CamelCase, then everything else."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def _defined_here(module: object, attribute: str) -> bool:
    value = getattr(module, attribute)
    return getattr(value, "__module__", None) == getattr(module, "__name__", None) and callable(
        value
    )


def test_spec_import_paths_work() -> None:
    from aether import Aether, register, register_provider  # noqa: F401
    from aether.events import REQUEST_COMPLETE, TOOL_ERROR, EventBus  # noqa: F401
    from aether.extensions.llm.fake import FakeProvider  # noqa: F401
    from aether.llm.contracts import (  # noqa: F401
        LLMProvider,
        LLMRequest,
        LLMResponse,
        Message,
        ToolCall,
    )
