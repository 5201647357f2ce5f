"""Test setup shared by the whole suite.

Every async test runs on asyncio and on trio: the ``anyio_backend`` fixture names both
explicitly, and trio is imported here so a missing trio fails the run loudly instead of
quietly skipping half of it. Async tests need no marker: ``anyio_mode = "auto"`` in
pyproject.toml hands every ``async def`` test to anyio's plugin.

The Redis tests (sessions, cache) use ``AETHER_TEST_REDIS_URL`` when it is set, or start
``redis-server`` themselves on a free loopback port (temporary directory, no persistence).
Without the binary they skip with a message saying how to run them, except under
``CI=true``, where they fail: CI installs the server (see ``.ci/run``).

The Redis Cluster tests use ``AETHER_TEST_REDIS_CLUSTER_URL`` (``redis+cluster://...``)
when set, or start a local cluster of three nodes once per run (`LocalRedisCluster`),
with the same skip-locally, fail-in-CI rule.
"""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import AsyncIterator, Iterator

import pytest
import trio  # noqa: F401 - the suite must fail without trio

from aether.extensions.redis import CoredisClient, create_redis_client, release_cluster_layout
from aether.registry import registry
from aether.testing.redis_server import LocalRedisCluster, RedisServer

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


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """The ``redis+cluster://`` URL of a Redis Cluster (three primaries) for this run."""
    given = os.environ.get("AETHER_TEST_REDIS_CLUSTER_URL")
    if given:
        yield given
        return
    if not LocalRedisCluster.available():
        advice = HOW_TO_RUN.replace("redis-server:", "redis-server and redis-cli:").replace(
            "AETHER_TEST_REDIS_URL=redis://host:port/db",
            "AETHER_TEST_REDIS_CLUSTER_URL=redis+cluster://host:port",
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Redis Cluster tests, but {advice}")
        pytest.skip(advice)
    with LocalRedisCluster() as cluster:
        yield cluster.url


@pytest.fixture
async def redis_cluster_client(redis_cluster_url: str) -> AsyncIterator[CoredisClient]:
    """An open coredis client of the test cluster (made by `create_redis_client`)."""
    client = create_redis_client(redis_cluster_url)
    try:
        async with client:
            yield client
    finally:
        release_cluster_layout(client)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[CoredisClient]:
    """An open coredis client of the test server (made by `create_redis_client`)."""
    async with create_redis_client(redis_url) as client:
        yield client


@pytest.fixture
def failed_redis_connections() -> Iterator[None]:
    """For tests that make Redis connections fail on purpose.

    coredis 6.9 leaves the buffers (anyio memory streams) of a connection that failed to
    connect unclosed, and they warn when collected. Such a test also carries
    ``@pytest.mark.filterwarnings(UNCLOSED_STREAMS)``; this collects what is left at its
    end, quietly, so that no later test is blamed.
    """
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


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


@pytest.fixture(params=["direct", "sdk"])
def openai_http_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on both paths the OpenAI adapters post by.

    ``direct`` (the default): the adapter posts straight to the transport under the
    client it owns (`aether.extensions.llm._direct_post`). ``sdk``: through the openai
    SDK and httpx2's client, as with ``AETHER_LEAN_HTTP=0`` or a client passed in.
    Other providers take the same path either way.
    """
    if request.param == "sdk":
        monkeypatch.setenv("AETHER_LEAN_HTTP", "0")
    return str(request.param)
