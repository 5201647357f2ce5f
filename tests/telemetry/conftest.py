from __future__ import annotations

import pytest

from tests.telemetry._otel import Otel


@pytest.fixture
def otel() -> Otel:
    return Otel()
