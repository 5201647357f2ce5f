"""The README's MCP example runs as written, from a checkout, with the Fake provider."""

from __future__ import annotations

from tests._readme import run_readme_example


def test_readme_mcp_example_lists_the_tools_and_answers_through_one() -> None:
    done = run_readme_example("mcp-files")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "['docs_read_file', 'docs_list_directory']"
    # The Fake provider calls the first tool with the prompt as its text argument.
    assert lines[1].startswith("The docs_read_file tool returned Error: Error executing tool")
