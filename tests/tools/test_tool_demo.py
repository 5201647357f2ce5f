from __future__ import annotations

import subprocess
import sys


def test_demo_shows_a_tool_call_on_the_fake_provider() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aether"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "[event] tool.complete get_current_time({'timezone': 'Asia/Tokyo'})" in done.stdout
    assert "ask with tools → In Tokyo it is " in done.stdout
    assert "(Asia/Tokyo, " in done.stdout
