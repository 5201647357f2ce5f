"""The README's "Images, audio and documents" section runs as written on the Fake provider."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from aether.demo import gradient_png

README = Path(__file__).resolve().parents[2] / "README.md"


def section_blocks(heading: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.index("\n## ", start + 1)
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text[start:end], re.S | re.M):
        line = text[: start + match.start()].count("\n") + 2
        blocks.append((line, match[1]))
    return blocks


async def test_the_multimodal_section_runs_on_the_fake_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chart.png").write_bytes(gradient_png())
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n" + bytes(2_000))
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    blocks = section_blocks("Images, audio and documents")
    assert len(blocks) == 2
    with contextlib.redirect_stdout(printed):
        for line, code in blocks:
            source = "\n" * (line - 1) + code
            compiled = compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(compiled, namespace)
            if result is not None:
                await result
    output = printed.getvalue()
    assert "size=86)" in output
    assert "It received an image (image/png, 86 bytes)." in output
    response = namespace["response"]
    assert response.tokens.input_image == 1_200  # type: ignore[attr-defined]
