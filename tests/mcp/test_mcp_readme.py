"""The README's MCP example runs as written, from a checkout, with the Fake provider."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_readme_mcp_example_lists_the_tools_and_answers_through_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("<!-- example: mcp-files -->", 1)[1]
    code = after.split("```python\n", 1)[1].split("```", 1)[0]

    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LLM_PROVIDER": "fake"},
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "['docs_read_file', 'docs_list_directory']"
    # The Fake provider calls the first tool with the prompt as its text argument.
    assert lines[1].startswith("The docs_read_file tool returned Error: Error executing tool")
