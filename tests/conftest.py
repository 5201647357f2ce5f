"""Test setup shared by the whole suite.

Every async test runs on asyncio and on trio: the ``anyio_backend`` fixture names both
explicitly, and trio is imported here so a missing trio fails the run loudly instead of
quietly skipping half of it. Async tests need no marker: ``anyio_mode = "auto"`` in
pyproject.toml hands every ``async def`` test to anyio's plugin.

The Redis tests (sessions, cache) use ``AETHER_TEST_REDIS_URL`` when it is set, or start
``redis-server`` themselves on a free loopback port (temporary directory, no persistence).
Without the binary they skip with a message saying how to run them, except under
``CI=true``, where they fail: CI installs the server (see ``.ci/run``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import trio  # noqa: F401 - the suite must fail without trio

from aether.extensions.redis import RedisClient
from aether.registry import registry
from aether.testing.redis_server import RedisServer

HOW_TO_RUN = (
    "the Redis tests need redis-server: install it (apt-get install redis-server) or set "
    "AETHER_TEST_REDIS_URL=redis://host:port/db to use a running server"
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis server for this test run."""
    given = os.environ.get("AETHER_TEST_REDIS_URL")
    if given:
        yield given
        return
    if RedisServer.executable() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Redis tests, but {HOW_TO_RUN}")
        pytest.skip(HOW_TO_RUN)
    with RedisServer() as server:
        yield server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[RedisClient]:
    client = RedisClient(redis_url)
    yield client
    await client.aclose()


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
