"""Test setup shared by the whole suite.

Every async test runs on asyncio and on trio: the ``anyio_backend`` fixture names both
explicitly, and trio is imported here so a missing trio fails the run loudly instead of
quietly skipping half of it. Async tests need no marker: ``anyio_mode = "auto"`` in
pyproject.toml hands every ``async def`` test to anyio's plugin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio  # noqa: F401 - the suite must fail without trio

from aether.registry import registry


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    """Registrations a test makes (providers, tools) are undone after it."""
    with registry.scoped():
        yield


@pytest.fixture(autouse=True)
def _clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real keys or provider choice."""
    for name in (
        "LLM_PROVIDER",
        "OPENAI_API_KEY",
        "OPENAI_MODEL",
        "OPENAI_BASE_URL",
        "GEMINI_API_KEY",
        "GEMINI_MODEL",
        "GOOGLE_API_KEY",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_MODEL",
        "AETHER_DEFAULT_TEMPERATURE",
        "AETHER_MAX_TOOL_ITERATIONS",
        "AETHER_HTTP_TOOL_TIMEOUT",
        "AETHER_HTTP_TOOL_MAX_BYTES",
        "AETHER_FILE_TOOL_MAX_BYTES",
        "AETHER_FILE_TOOL_ROOT",
        "AETHER_HTTP_TOOL_ALLOW_HOSTS",
    ):
        monkeypatch.delenv(name, raising=False)
