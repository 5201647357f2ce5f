"""The shared provider suite, on every built-in wire format, in both modes."""

from __future__ import annotations

import pytest

from aether.testing.provider_suite import Scenario, case_id, cases, run_scenario
from aether.testing.wire import Mode, WireFormat
from aether.testing.wires import BUILTIN_WIRES

# Marked here, not only by the conftest: anyio's plugin re-creates late-marked async tests
# with the backend as their only parameter, which would drop the parametrisation below.
pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("scenario", "wire", "mode"), cases(BUILTIN_WIRES), ids=case_id)
async def test_provider_scenario(scenario: Scenario, wire: WireFormat, mode: Mode) -> None:
    await run_scenario(scenario, wire, mode)
