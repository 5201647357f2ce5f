"""The README's "Reasoning" section runs as written on the Fake provider."""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

from tests.core.test_readme_multimodal import section_blocks

README = Path(__file__).resolve().parents[2] / "README.md"


async def test_the_reasoning_section_runs_on_the_fake_provider() -> None:
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    (line, code), *others = section_blocks("Reasoning")
    assert others == []
    source = "\n" * (line - 1) + code
    compiled = compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    with contextlib.redirect_stdout(printed):
        result = eval(compiled, namespace)
        if result is not None:
            await result
    assert printed.getvalue().splitlines() == [
        "42",
        "7 + 5 is 12, carry the 1: 42.",
        "7 + 5 is 12, carry the 1: 42.",
        "-> 42",
    ]
