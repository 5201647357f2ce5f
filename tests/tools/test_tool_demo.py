from __future__ import annotations

import subprocess
import sys


def test_demo_streams_a_tool_call_on_the_fake_provider() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aether", "demo"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "using the Fake provider" in done.stdout
    assert "[calling add({'a': 17, 'b': 25})]" in done.stdout
    assert "[event] tool.complete add → 42" in done.stdout
    assert "The add tool returned 42." in done.stdout
    assert "usage: 4 requests" in done.stdout
