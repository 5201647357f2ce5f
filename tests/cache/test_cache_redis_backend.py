"""The Redis backend: namespaced keys, expiry, sharing across clients, locks, bad data."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import pytest
from _cache_helpers import answer, cached_pipeline, provider, request

from aether import Aether, ConfigurationError, ServerError
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.redis import CoredisClient, RedisNotOpenError
from aether.middleware.cache import CacheEntry, RedisCacheBackend
from aether.testing.redis_server import RedisServer


@pytest.fixture
def backend(redis_client: CoredisClient) -> RedisCacheBackend:
    return RedisCacheBackend(redis_client, namespace=f"test-{uuid.uuid4().hex}")


async def keys(redis: CoredisClient, pattern: str) -> list[bytes]:
    return sorted(await redis.keys(pattern))


async def test_entries_live_under_the_namespace(backend: RedisCacheBackend) -> None:
    pipeline, cache = cached_pipeline(backend, provider())
    await pipeline.complete(request())
    digest = cache.key(request())
    assert await keys(backend.redis, f"{backend.namespace}:*") == [
        f"{backend.namespace}:cache:{{{digest}}}".encode()
    ]
    assert backend.entry_key(digest) == f"{backend.namespace}:cache:{{{digest}}}"
    assert backend.lock_key(digest) == f"{backend.namespace}:cache-lock:{{{digest}}}"


async def test_entries_are_stored_with_the_ttl(redis_client: CoredisClient) -> None:
    backend = RedisCacheBackend(redis_client, namespace=f"test-{uuid.uuid4().hex}", ttl=30)
    await backend.set("k", CacheEntry(response=answer()))
    remaining = await redis_client.pttl(backend.entry_key("k"))
    assert 29_000 < remaining <= 30_000


async def test_without_ttl_entries_do_not_expire(redis_client: CoredisClient) -> None:
    backend = RedisCacheBackend(redis_client, namespace=f"test-{uuid.uuid4().hex}", ttl=None)
    await backend.set("k", CacheEntry(response=answer()))
    assert await redis_client.pttl(backend.entry_key("k")) == -1


async def test_an_expired_answer_is_asked_again(redis_client: CoredisClient) -> None:
    backend = RedisCacheBackend(redis_client, namespace=f"test-{uuid.uuid4().hex}", ttl=0.05)
    fake = provider()
    pipeline, _ = cached_pipeline(backend, fake)
    await pipeline.complete(request())
    await pipeline.complete(request())
    await anyio.sleep(0.15)
    await pipeline.complete(request())
    assert len(fake.requests) == 2


async def test_two_clients_share_the_answers(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    async with (
        RedisCacheBackend(redis_url, namespace=namespace) as backend_a,
        RedisCacheBackend(redis_url, namespace=namespace) as backend_b,
    ):
        fake_a, fake_b = provider("from a"), provider("from b")
        client_a = Aether(fake_a, cache=backend_a)
        client_b = Aether(fake_b, cache=backend_b)
        assert await client_a.ask("hi") == "from a"
        assert await client_b.ask("hi") == "from a"
        assert (len(fake_a.requests), len(fake_b.requests)) == (1, 0)
        assert client_b.usage.total_requests == 0


async def test_two_clients_make_one_provider_call_for_a_cold_key(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    async with (
        RedisCacheBackend(redis_url, namespace=namespace) as backend_a,
        RedisCacheBackend(redis_url, namespace=namespace) as backend_b,
    ):
        fakes = [provider(delay=0.1), provider(delay=0.1)]
        clients = [Aether(fakes[0], cache=backend_a), Aether(fakes[1], cache=backend_b)]
        answers: list[str] = []

        async def ask(client: Aether) -> None:
            answers.append(await client.ask("hi"))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                for index in range(20):
                    group.start_soon(ask, clients[index % 2])
        assert sum(len(fake.requests) for fake in fakes) == 1
        assert answers == ["Paris is the capital of France."] * 20
        assert await keys(backend_a.redis, f"{namespace}:cache-lock:*") == []


async def test_a_lock_left_by_a_dead_process_frees_itself(backend: RedisCacheBackend) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(backend, fake, poll_interval=0.02)
    lock = backend.lock_key(cache.key(request()))
    await backend.redis.set(lock, "dead-process", px=200)
    started = anyio.current_time()
    with anyio.fail_after(5):
        response = await pipeline.complete(request())
    assert anyio.current_time() - started >= 0.15
    assert response.text == "Paris is the capital of France."
    assert len(fake.requests) == 1


async def test_a_waiting_process_takes_over_when_the_leader_fails(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    async with (
        RedisCacheBackend(redis_url, namespace=namespace) as backend_a,
        RedisCacheBackend(redis_url, namespace=namespace) as backend_b,
    ):
        failing = FakeProvider(responses=[ServerError("down")], delay=0.1)
        working = provider()
        leader, _ = cached_pipeline(backend_a, failing)
        waiter, _ = cached_pipeline(backend_b, working, poll_interval=0.02)
        results: list[str] = []

        async def lead() -> None:
            with pytest.raises(ServerError):
                await leader.complete(request())

        async def wait() -> None:
            await anyio.sleep(0.03)
            results.append((await waiter.complete(request())).text)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(lead)
                group.start_soon(wait)
        assert results == ["Paris is the capital of France."]
        assert (len(failing.requests), len(working.requests)) == (1, 1)


async def test_a_cancelled_leader_releases_its_lock(backend: RedisCacheBackend) -> None:
    pipeline, cache = cached_pipeline(backend, provider(delay=1))
    with anyio.move_on_after(0.05):
        await pipeline.complete(request())
    assert await backend.redis.exists([backend.lock_key(cache.key(request()))]) == 0


@pytest.mark.parametrize(
    "stored",
    [b"garbage", b'{"v": 99, "created_at": 1, "response": {"model": "m"}}'],
    ids=["not-json", "newer-version"],
)
async def test_an_unreadable_entry_is_a_logged_miss_and_is_overwritten(
    backend: RedisCacheBackend, caplog: pytest.LogCaptureFixture, stored: bytes
) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(backend, fake)
    key = backend.entry_key(cache.key(request()))
    await backend.redis.set(key, stored)
    with caplog.at_level(logging.WARNING, logger="aether.cache"):
        response = await pipeline.complete(request())
    assert response.text == "Paris is the capital of France."
    assert len(fake.requests) == 1
    assert "cannot be read" in caplog.text
    assert await backend.get(cache.key(request())) is not None


async def test_an_unreadable_entry_read_without_locking_is_a_miss(
    backend: RedisCacheBackend,
) -> None:
    await backend.redis.set(backend.entry_key("k"), "garbage")
    assert await backend.get("k") is None
    assert await backend.redis.exists([backend.entry_key("k")]) == 0


async def test_the_cache_fails_open_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = f"redis://127.0.0.1:{RedisServer.free_port()}/0"
    async with RedisCacheBackend(unreachable) as backend:
        fake = provider()
        pipeline, cache = cached_pipeline(backend, fake)
        with caplog.at_level(logging.WARNING, logger="aether.cache"):
            first = await pipeline.complete(request())
            chunks = [chunk async for chunk in pipeline.stream(request())]
    assert first.text == "Paris is the capital of France."
    assert chunks[-1].is_final
    assert len(fake.requests) == 2
    assert cache.stats.backend_errors == 4  # a read and a store, per call
    assert "the request goes on without the cache" in caplog.text


async def test_a_key_of_another_type_fails_open(backend: RedisCacheBackend) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(backend, fake)
    await backend.redis.lpush(backend.entry_key(cache.key(request())), ["x"])
    response = await pipeline.complete(request())
    assert response.text == "Paris is the capital of France."
    assert cache.stats.backend_errors >= 1


async def test_clear_deletes_this_namespace_only(backend: RedisCacheBackend) -> None:
    for index in range(3):
        await backend.set(f"k{index}", CacheEntry(response=answer()))
    other = RedisCacheBackend(backend.redis, namespace=f"{backend.namespace}-other")
    await other.set("k", CacheEntry(response=answer()))
    await backend.clear()
    assert await keys(backend.redis, f"{backend.namespace}:*") == []
    assert await other.get("k") is not None
    await other.clear()


async def test_a_backend_made_from_a_url_closes_its_client(redis_url: str) -> None:
    backend = RedisCacheBackend(redis_url, namespace=f"test-{uuid.uuid4().hex}")
    async with backend:
        await backend.set("k", CacheEntry(response=answer()))
    with pytest.raises(RedisNotOpenError, match=r"open it once around its use \(async with cache:"):
        await backend.get("k")


async def test_a_shared_client_is_left_open(redis_client: CoredisClient) -> None:
    async with RedisCacheBackend(redis_client, namespace=f"test-{uuid.uuid4().hex}"):
        pass
    assert await redis_client.ping() == b"PONG"


def test_invalid_settings_are_reported_together() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisCacheBackend("redis://127.0.0.1:6379/0", namespace="", ttl=0)
    assert len(caught.value.problems) == 2


def test_repr_hides_the_password() -> None:
    backend = RedisCacheBackend("redis://user:s3cret@localhost:6379/2", namespace="app")
    assert "s3cret" not in repr(backend)
    assert repr(backend) == (
        "RedisCacheBackend('redis://user:***@localhost:6379/2', namespace='app', ttl=3600.0)"
    )


def test_two_processes_make_one_provider_call_for_a_cold_key(redis_url: str) -> None:
    """One process on asyncio, one on trio, released together; 10 questions each."""
    namespace = f"test-{uuid.uuid4().hex}"
    worker = Path(__file__).with_name("_cache_worker.py")
    processes = [
        subprocess.Popen(
            [sys.executable, str(worker), backend, redis_url, namespace],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for backend in ("asyncio", "trio")
    ]
    reports = []
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            output, errors = process.communicate(timeout=60)
            assert process.returncode == 0, errors
            reports.append(json.loads(output))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert sum(report["provider_calls"] for report in reports) == 1
    assert [report["answers"] for report in reports] == [["the shared answer"] * 10] * 2
