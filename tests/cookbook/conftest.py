"""Fixtures shared by the cookbook tests."""

from __future__ import annotations

import pytest

from ._doubles import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
