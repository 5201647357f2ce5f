"""The ``aether_cassette`` pytest fixture: one line per test to record and replay traffic.

Enable it in your ``conftest.py`` (it is not loaded by itself)::

    pytest_plugins = ["aether.testing.pytest_plugin"]

then, in a test::

    async def test_weather(aether_cassette):
        client = Aether(aether_cassette(ProviderConfig(name="openai")))
        assert "sunny" in await client.ask("Weather in Paris?", tools=[get_weather])

Each test gets its own file, ``cassettes/<test module>/<test name>.json`` beside the test
module. The mode comes from ``@pytest.mark.aether_cassette(mode=...)``, else
``--aether-cassette-mode``, else ``AETHER_CASSETTE_MODE``, else ``once``: the first run
records (with a real API key), later runs replay offline. Run CI with
``--aether-cassette-mode=replay-only`` so a missing cassette fails instead of calling the
provider. The marker also takes ``path=``, ``match_on=``, ``redact=`` and ``scrub=`` (see
`aether.testing.cassette.CassetteProvider`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, cast

import pytest

from aether.testing.cassette import CassetteMode, CassetteProvider

__all__ = ["CassetteFixture", "aether_cassette", "pytest_addoption", "pytest_configure"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("aether").addoption(
        "--aether-cassette-mode",
        choices=["once", "replay-only", "record"],
        default=None,
        help="how aether_cassette treats recordings: once (default), replay-only, record",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aether_cassette(path=None, mode=None, **options): settings of the aether_cassette "
        "fixture for this test",
    )


class CassetteFixture:
    """Call it with what to record from (a provider, a `ProviderConfig`, or nothing).

    Attributes:
        path: This test's cassette file.
        mode: ``once``, ``replay-only`` or ``record``.
    """

    def __init__(self, path: Path, mode: CassetteMode, options: dict[str, Any]) -> None:
        self.path = path
        self.mode = mode
        self._options = options

    def __call__(self, provider: Any = None) -> CassetteProvider:
        """A `CassetteProvider` on this test's cassette, to pass to ``Aether(...)``."""
        return CassetteProvider(self.path, provider, mode=self.mode, **self._options)


@pytest.fixture
def aether_cassette(request: pytest.FixtureRequest) -> CassetteFixture:
    """This test's cassette: ``Aether(aether_cassette(ProviderConfig(name="openai")))``."""
    marker = request.node.get_closest_marker("aether_cassette")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    mode = (
        options.pop("mode", None)
        or request.config.getoption("aether_cassette_mode", None)
        or os.environ.get("AETHER_CASSETTE_MODE")
        or "once"
    )
    path = options.pop("path", None)
    if path is None:
        test_file = Path(str(request.node.path))
        name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
        path = test_file.parent / "cassettes" / test_file.stem / f"{name}.json"
    return CassetteFixture(Path(path), cast(CassetteMode, mode), options)  # checked there
