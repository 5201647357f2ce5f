"""The typing check of ``output_type=`` stays wired into CI, and its calls run as written."""

from __future__ import annotations

from pathlib import Path

from aether import Aether, SyncAether
from aether.extensions.llm.fake import FakeProvider
from tests.typecheck import output_types

ROOT = Path(__file__).parents[2]


def test_ci_and_dev_check_run_mypy_over_the_typing_checks() -> None:
    assert ".venv/bin/mypy --strict tests/typecheck" in (ROOT / ".ci" / "run").read_text()
    assert '"--strict", "tests/typecheck"' in (ROOT / "dev.py").read_text()


async def test_the_typed_calls_run_on_the_fake_provider() -> None:
    client = Aether(FakeProvider())
    await output_types.client_calls(client)
    await output_types.session_calls(client)


def test_the_typed_sync_calls_run_on_the_fake_provider() -> None:
    with SyncAether(FakeProvider()) as client:
        output_types.sync_calls(client)
