"""The cookbook's promises: public API only, sorted exports, importable from the repo root."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(
    path.stem for path in (ROOT / "middleware").glob("*.py") if path.stem != "__init__"
)
PUBLIC_AETHER = {
    "aether",
    "aether.errors",
    "aether.events",
    "aether.extensions.llm.fake",
    "aether.llm.contracts",
    "aether.llm.streaming",
    "aether.memory",
    "aether.pipeline",
    "aether.tools",
}


def imported_modules(name: str) -> set[str]:
    tree = ast.parse((ROOT / "middleware" / f"{name}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_every_recipe_is_listed_in_the_readme() -> None:
    readme = (ROOT / "middleware" / "README.md").read_text(encoding="utf-8")
    assert RECIPES == ["audit_log", "model_routing", "pii_redaction"]
    assert [f"`{name}.py`" in readme for name in RECIPES] == [True] * len(RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_uses_only_the_public_api(name: str) -> None:
    aether_imports = {module for module in imported_modules(name) if module.startswith("aether")}
    assert aether_imports <= PUBLIC_AETHER, aether_imports - PUBLIC_AETHER


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_never_imports_asyncio(name: str) -> None:
    assert not {module for module in imported_modules(name) if module.split(".")[0] == "asyncio"}


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_exports_a_sorted_complete_all(name: str) -> None:
    module = importlib.import_module(f"middleware.{name}")
    exported = list(module.__all__)
    # Ruff's RUF022 order: CONSTANTS, then CamelCase, then everything else.
    assert exported == sorted(
        exported, key=lambda item: (0 if item.isupper() else 1 if item[0].isupper() else 2, item)
    )
    assert [item for item in exported if not hasattr(module, item)] == []


def test_recipes_import_from_the_repository_root_in_a_fresh_interpreter() -> None:
    code = "; ".join(f"import middleware.{name}" for name in RECIPES)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
