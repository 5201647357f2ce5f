"""The shared provider suite, on every built-in wire format, in both modes.

The OpenAI adapters post straight to their transport by default; their scenarios run a
second time through the openai SDK and httpx2's client (``AETHER_LEAN_HTTP=0``, the path
a client passed in takes), so both paths pass the same suite.
"""

from __future__ import annotations

import pytest

from aether.testing.provider_suite import Scenario, case_id, cases, run_scenario
from aether.testing.wire import Mode, WireFormat
from aether.testing.wires import BUILTIN_WIRES, OPENAI_RESPONSES_WIRE, OPENAI_WIRE

# Marked here, not only by the conftest: anyio's plugin re-creates late-marked async tests
# with the backend as their only parameter, which would drop the parametrisation below.
pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("scenario", "wire", "mode"), cases(BUILTIN_WIRES), ids=case_id)
async def test_provider_scenario(scenario: Scenario, wire: WireFormat, mode: Mode) -> None:
    await run_scenario(scenario, wire, mode)


@pytest.mark.parametrize(
    ("scenario", "wire", "mode"), cases((OPENAI_WIRE, OPENAI_RESPONSES_WIRE)), ids=case_id
)
async def test_openai_scenario_through_the_sdk(
    scenario: Scenario, wire: WireFormat, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_LEAN_HTTP", "0")
    provider = wire.build_provider(lambda request: None)
    assert provider._direct is None, "AETHER_LEAN_HTTP=0 must send through the SDK"
    await provider.aclose()
    await run_scenario(scenario, wire, mode)
