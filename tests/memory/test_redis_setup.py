"""The Redis fixture's promise: without a server it skips locally and fails under CI=true.

Each case runs one Redis test in a child pytest whose PATH holds no ``redis-server`` and
whose environment names no server, so the fixture's own decision is what is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_REDIS_TEST = "tests/memory/test_redis_client.py::test_commands_round_trip"


def _run_without_a_server(tmp_path: Path, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CI", "AETHER_TEST_REDIS_URL", "PYTEST_ADDOPTS")
    }
    env["PATH"] = str(tmp_path)  # an empty directory: no redis-server to find
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_REDIS_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_redis_tests_skip_with_advice_locally(tmp_path: Path) -> None:
    result = _run_without_a_server(tmp_path, ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout
    assert "apt-get install redis-server" in result.stdout


@pytest.mark.slow
def test_redis_tests_fail_instead_of_skipping_in_ci(tmp_path: Path) -> None:
    result = _run_without_a_server(tmp_path, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI must run the Redis tests" in result.stdout
    assert "skipped" not in result.stdout
