"""``import aether`` loads only what a default client's first call needs (issue 20).

The opt-in layers (budget, cache, rate limit, fallback, hedging, telemetry) and
`SyncAether` load on first use; their public names and import paths stay the same.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

DEFERRED = (
    "aether.sync",
    "aether.middleware.budget",
    "aether.middleware.cache",
    "aether.middleware.rate_limit",
    "aether.middleware.fallback",
    "aether.middleware.hedging",
    "aether.middleware.telemetry",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_import_aether_defers_the_opt_in_modules() -> None:
    loaded = _loaded_after("import aether")
    assert "aether.client" in loaded  # the probe does see what aether imports
    assert sorted(loaded & set(DEFERRED)) == []


def test_a_default_client_still_does_not_load_them() -> None:
    code = (
        "from aether import Aether\n"
        "from aether.extensions.llm.fake import FakeProvider\n"
        "client = Aether(FakeProvider())\n"
        "assert client.cache is None"
    )
    loaded = _loaded_after(code)
    assert sorted(loaded & set(DEFERRED)) == []


@pytest.mark.parametrize(
    ("package", "name", "module"),
    [
        ("aether", "SyncAether", "aether.sync"),
        ("aether.middleware", "CacheMiddleware", "aether.middleware.cache"),
        ("aether.middleware", "BudgetPolicy", "aether.middleware.budget"),
        ("aether.middleware", "TelemetryMiddleware", "aether.middleware.telemetry"),
        ("aether.middleware", "LatencyPercentile", "aether.middleware.hedging"),
    ],
)
def test_deferred_names_import_from_where_they_were(package: str, name: str, module: str) -> None:
    code = f"from {package} import {name}\nassert {name}.__module__ == {module!r}"
    assert module in _loaded_after(code)


def test_deferred_names_are_listed_and_unknown_names_fail() -> None:
    import aether
    import aether.middleware

    assert "SyncAether" in dir(aether)
    assert "RateLimitPolicy" in dir(aether.middleware)
    assert aether.middleware.hedging.__name__ == "aether.middleware.hedging"  # submodules too
    with pytest.raises(AttributeError, match="NoSuchLayer"):
        aether.middleware.NoSuchLayer  # noqa: B018
    with pytest.raises(AttributeError, match="nothing_here"):
        aether.nothing_here  # noqa: B018


def test_the_cache_layer_of_a_stack_is_found_once_loaded() -> None:
    from aether import Aether, default_stack
    from aether.extensions.llm.fake import FakeProvider

    client = Aether(FakeProvider(), stack=default_stack(cache=True))
    assert type(client.cache).__name__ == "CacheMiddleware"
