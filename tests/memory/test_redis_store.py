"""What the Redis store adds to the conformance suite: keys, TTL, corruption."""

from __future__ import annotations

import pytest

from aether import Aether, ConfigurationError, SessionCorruptedError, SessionError
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.redis import RedisClient
from aether.llm.contracts import Message

pytestmark = pytest.mark.redis

HI = [Message(role="user", content="hi")]


async def test_keys_are_namespaced(redis_client: RedisClient) -> None:
    store = RedisSessionStore(redis_client, namespace="app-one")
    other = RedisSessionStore(redis_client, namespace="app-two")
    await store.save("alice", HI)
    assert await redis_client.execute("EXISTS", "app-one:session:alice") == 1
    assert await other.load("alice") == []
    await store.delete("alice")


async def test_stored_elements_are_versioned_json(redis_client: RedisClient) -> None:
    store = RedisSessionStore(redis_client, namespace="versioned")
    await store.save("s", HI)
    assert await redis_client.execute("LRANGE", "versioned:session:s", 0, -1) == [
        b'{"v":1,"message":{"role":"user","content":"hi"}}'
    ]
    await store.delete("s")


async def test_without_ttl_histories_never_expire(redis_store: RedisSessionStore) -> None:
    await redis_store.save("s", HI)
    assert await redis_store.redis.execute("PTTL", redis_store.key("s")) == -1


async def test_ttl_is_set_on_save_and_reset_on_append(redis_client: RedisClient) -> None:
    store = RedisSessionStore(redis_client, namespace="ttl-test", ttl=60)
    await store.save("s", HI)
    await redis_client.execute("PEXPIRE", store.key("s"), 1000)
    await store.append("s", [Message(role="assistant", content="hello")])
    remaining = await redis_client.execute("PTTL", store.key("s"))
    assert isinstance(remaining, int)
    assert 59_000 < remaining <= 60_000
    await store.delete("s")


async def test_a_corrupt_element_raises_and_is_left_untouched(
    redis_store: RedisSessionStore,
) -> None:
    await redis_store.redis.execute("RPUSH", redis_store.key("s"), "not json")
    session = Aether(FakeProvider("ok"), memory_store=redis_store).session("s")
    with pytest.raises(SessionCorruptedError, match="'s'"):
        await session.ask("next")
    assert await redis_store.redis.execute("LRANGE", redis_store.key("s"), 0, -1) == [b"not json"]


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (
            '{"v": 1, "message": {"role": "user", "x": ' + "[" * 100_000 + "]" * 100_000 + "}}",
            "nested too deeply",
        ),
        (b'{"v": 1, "message": {"role": "user", "content": "caf\xe9"}}', "not UTF-8"),
    ],
    ids=["nested-too-deeply", "not-utf8"],
)
async def test_an_unreadable_element_is_corrupted_naming_it(
    redis_store: RedisSessionStore, stored: str | bytes, reason: str
) -> None:
    await redis_store.save("s", [Message(role="user", content="hi")])
    await redis_store.redis.execute("RPUSH", redis_store.key("s"), stored)
    with pytest.raises(SessionCorruptedError, match=reason) as caught:
        await redis_store.load("s")
    assert (caught.value.session_id, caught.value.record) == ("s", 1)
    assert "record 1 of 2" in str(caught.value)
    await redis_store.delete("s")


async def test_a_key_of_another_type_raises_corrupted(redis_store: RedisSessionStore) -> None:
    await redis_store.redis.execute("SET", redis_store.key("s"), "a string")
    with pytest.raises(SessionCorruptedError, match="other than a list"):
        await redis_store.load("s")
    with pytest.raises(SessionCorruptedError, match="other than a list"):
        await redis_store.append("s", HI)
    assert await redis_store.redis.execute("GET", redis_store.key("s")) == b"a string"


async def test_an_unreachable_server_raises_session_error() -> None:
    async with RedisSessionStore("redis://127.0.0.1:1/0") as store:
        with pytest.raises(SessionError, match="could not load session 's' in Redis"):
            await store.load("s")


def test_bad_settings_are_all_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisSessionStore("redis://127.0.0.1:6379/0", namespace="", ttl=0)
    assert len(caught.value.problems) == 2


async def test_a_store_leaves_a_shared_client_open(redis_client: RedisClient) -> None:
    async with RedisSessionStore(redis_client, namespace="shared") as store:
        await store.exists("s")
    assert await redis_client.execute("PING") == "PONG"
