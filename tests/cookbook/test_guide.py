"""Every python block of the middleware guide and of the cookbook README runs, in order.

The blocks of a document share one namespace, like an async REPL: a block may use what
earlier blocks defined, and ``await`` at the top level. Test ``n`` runs blocks ``0..n``
in a fresh namespace, so a failure names the first block that broke.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "docs" / "middleware.md", ROOT / "middleware" / "README.md")
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True, slots=True)
class Block:
    path: Path
    line: int
    heading: str
    code: str

    @property
    def label(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"{self.path.name}:{self.line}:{slug}"


def python_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        if match[1] != "python":
            continue
        before = text[: match.start()]
        headings = re.findall(r"^#+ (.+)$", before, re.M)
        line = before.count("\n") + 2
        blocks.append(Block(path, line, headings[-1] if headings else "", match[2]))
    return blocks


CASES = [
    pytest.param(path, index, id=block.label)
    for path in DOCUMENTS
    for index, block in enumerate(python_blocks(path))
]


async def run_block(block: Block, namespace: dict[str, object]) -> None:
    # Pad with newlines so tracebacks point at the document's own line numbers.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, str(block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result


def test_documents_have_python_blocks() -> None:
    assert [len(python_blocks(path)) > 0 for path in DOCUMENTS] == [True, True]


def test_guide_has_a_stack_picture() -> None:
    text = DOCUMENTS[0].read_text(encoding="utf-8")
    picture = _FENCE.search(text)
    assert picture is not None
    assert picture[1] == "text"
    names = ["tool loop", "cache", "cost tracking", "circuit breaker", "retry", "events"]
    positions = [picture[2].index(name) for name in names]
    assert positions == sorted(positions)


def test_every_fenced_block_is_python_or_a_picture() -> None:
    for path in DOCUMENTS:
        kinds = {match[1] for match in _FENCE.finditer(path.read_text(encoding="utf-8"))}
        assert kinds <= {"python", "text"}, path


@pytest.mark.parametrize(("path", "index"), CASES)
async def test_block_runs(
    path: Path, index: int, anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # files the examples write land here
    namespace: dict[str, object] = {"__name__": f"guide_{path.stem}"}
    for block in python_blocks(path)[: index + 1]:
        await run_block(block, namespace)
