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
    assert "ask with an image → This is Aether's fake provider answering" in done.stdout
    assert "It received an image (image/png, " in done.stdout
    assert "tokens=1609+" in done.stdout  # nine words, and 1,600 for the image
    assert "usage: 5 requests" in done.stdout
