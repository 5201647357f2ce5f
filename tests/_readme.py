"""Running README.md's marked examples as written, for the tests that check them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_readme_example(marker: str, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the python block after ``<!-- example: MARKER -->`` with the Fake provider."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split(f"<!-- example: {marker} -->", 1)[1]
    code = after.split("```python\n", 1)[1].split("```", 1)[0]
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "LLM_PROVIDER": "fake"},
    )
