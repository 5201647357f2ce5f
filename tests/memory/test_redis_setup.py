"""The Redis fixtures' promise: without a server they skip locally and fail under CI=true.

Each case runs one Redis test (single node, then cluster) in a child pytest whose PATH
holds no ``redis-server`` nor ``redis-cli`` and whose environment names no server, so the
fixture's own decision is what is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_REDIS_TEST = "tests/redis/test_coredis_client.py::test_errors_map_to_aethers"
ONE_CLUSTER_TEST = "tests/redis/test_coredis_client.py::test_a_script_runs_on_the_local_cluster"
CASES = pytest.mark.parametrize(
    ("test", "what"),
    [(ONE_REDIS_TEST, "Redis tests"), (ONE_CLUSTER_TEST, "Redis Cluster tests")],
    ids=["single-node", "cluster"],
)


def _run_without_a_server(
    tmp_path: Path, test: str, *, ci: str | None
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in ("CI", "AETHER_TEST_REDIS_URL", "AETHER_TEST_REDIS_CLUSTER_URL", "PYTEST_ADDOPTS")
    }
    env["PATH"] = str(tmp_path)  # an empty directory: no redis-server to find
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@CASES
def test_redis_tests_skip_with_advice_locally(tmp_path: Path, test: str, what: str) -> None:
    result = _run_without_a_server(tmp_path, test, ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout
    assert "apt-get install redis-server" in result.stdout


@pytest.mark.slow
@CASES
def test_redis_tests_fail_instead_of_skipping_in_ci(tmp_path: Path, test: str, what: str) -> None:
    result = _run_without_a_server(tmp_path, test, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"CI must run the {what}" in result.stdout
    assert "skipped" not in result.stdout
