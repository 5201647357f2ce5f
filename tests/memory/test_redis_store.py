"""What the Redis store adds to the conformance suite: keys, TTL, corruption, re-sends."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import coredis
import pytest
from _redis_proxy import RedisProxy

from aether import Aether, ConfigurationError, SessionCorruptedError, SessionError
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.memory.redis import RedisSessionStore
from aether.extensions.redis import CoredisClient, RedisNotOpenError, create_redis_client
from aether.llm.contracts import Message

pytestmark = pytest.mark.redis

HI = [Message(role="user", content="hi")]
TURN = [Message(role="user", content="what is 2+2?"), Message(role="assistant", content="4")]


async def test_keys_are_namespaced(redis_client: CoredisClient) -> None:
    store = RedisSessionStore(redis_client, namespace="app-one")
    other = RedisSessionStore(redis_client, namespace="app-two")
    await store.save("alice", HI)
    assert await redis_client.exists(["app-one:session:alice"]) == 1
    assert await other.load("alice") == []
    await store.delete("alice")


async def test_stored_elements_are_versioned_json(redis_client: CoredisClient) -> None:
    store = RedisSessionStore(redis_client, namespace="versioned")
    await store.save("s", HI)
    assert await redis_client.lrange("versioned:session:s", 0, -1) == [
        b'{"v":1,"message":{"role":"user","content":"hi"}}'
    ]
    await store.delete("s")


async def test_without_ttl_histories_never_expire(redis_store: RedisSessionStore) -> None:
    await redis_store.save("s", HI)
    assert await redis_store.redis.pttl(redis_store.key("s")) == -1


async def test_ttl_is_set_on_save_and_reset_on_append(redis_client: CoredisClient) -> None:
    store = RedisSessionStore(redis_client, namespace="ttl-test", ttl=60)
    await store.save("s", HI)
    await redis_client.pexpire(store.key("s"), 1000)
    await store.append("s", [Message(role="assistant", content="hello")])
    remaining = await redis_client.pttl(store.key("s"))
    assert 59_000 < remaining <= 60_000
    await store.delete("s")


async def test_a_corrupt_element_raises_and_is_left_untouched(
    redis_store: RedisSessionStore,
) -> None:
    await redis_store.redis.rpush(redis_store.key("s"), ["not json"])
    session = Aether(FakeProvider("ok"), memory_store=redis_store).session("s")
    with pytest.raises(SessionCorruptedError, match="'s'"):
        await session.ask("next")
    assert await redis_store.redis.lrange(redis_store.key("s"), 0, -1) == [b"not json"]


async def test_a_key_of_another_type_raises_corrupted(redis_store: RedisSessionStore) -> None:
    await redis_store.redis.set(redis_store.key("s"), "a string")
    with pytest.raises(SessionCorruptedError, match="other than a list"):
        await redis_store.load("s")
    with pytest.raises(SessionCorruptedError, match="other than a list"):
        await redis_store.append("s", HI)
    assert await redis_store.redis.get(redis_store.key("s")) == b"a string"


async def test_an_unreachable_server_raises_session_error() -> None:
    async with RedisSessionStore("redis://127.0.0.1:1/0") as store:
        with pytest.raises(SessionError, match="could not load session 's' in Redis"):
            await store.load("s")


async def test_a_store_used_before_it_is_opened_says_how_to_open_it() -> None:
    store = RedisSessionStore("redis://user:hunter2@127.0.0.1:1/0")
    with pytest.raises(RedisNotOpenError, match=r"async with store:") as caught:
        await store.load("s")
    assert "hunter2" not in str(caught.value)


def test_bad_settings_are_all_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisSessionStore("redis://127.0.0.1:6379/0", namespace="", ttl=0)
    assert len(caught.value.problems) == 2


def test_the_password_never_appears_in_a_repr() -> None:
    store = RedisSessionStore("redis://bob:hunter2@127.0.0.1:6379/0", namespace="app")
    assert repr(store) == (
        "RedisSessionStore('redis://bob:***@127.0.0.1:6379/0', namespace='app', ttl=None)"
    )


async def test_a_store_leaves_a_shared_client_open(redis_client: CoredisClient) -> None:
    async with RedisSessionStore(redis_client, namespace="shared") as store:
        await store.exists("s")
    assert await redis_client.ping() == b"PONG"


async def test_delete_removes_the_turn_ids_too(redis_store: RedisSessionStore) -> None:
    await redis_store.append("s", TURN)
    assert await redis_store.redis.exists([redis_store.turns_key("s")]) == 1
    await redis_store.delete("s")
    assert await redis_store.redis.exists([redis_store.turns_key("s")]) == 0


# -- a connection that breaks after the append ran ---------------------------------------


@pytest.mark.parametrize("client", ["aether", "coredis-default"])
async def test_a_turn_whose_reply_was_lost_is_stored_once(redis_url: str, client: str) -> None:
    """The append ran, the reply was lost: the store (or coredis) sends it again."""
    proxy = RedisProxy(urlsplit(redis_url).port or 6379)
    namespace = f"test-{uuid.uuid4().hex}"
    async with proxy.running():
        if client == "aether":
            store_client = create_redis_client(proxy.url)
        else:  # coredis's own default: it re-sends after a connection error by itself
            store_client = coredis.Redis.from_url(proxy.url)
        async with store_client, RedisSessionStore(store_client, namespace=namespace) as store:
            await store.append("warm-up", HI)  # loads the script: the next EVALSHA runs it
            proxy.drop_reply_to(b"EVALSHA")
            await store.append("s", TURN, prefix_if_new=[Message(role="system", content="S")])
            assert proxy.dropped == 1
            assert proxy.count(b"EVALSHA") == 3  # warm-up, the lost one, the second send
            assert await store.load("s") == [Message(role="system", content="S"), *TURN]
            await store.delete("s")
            await store.delete("warm-up")


async def test_a_turn_that_keeps_failing_raises_and_is_stored_at_most_once(
    redis_url: str,
) -> None:
    proxy = RedisProxy(urlsplit(redis_url).port or 6379)
    async with proxy.running(), RedisSessionStore(proxy.url, namespace="flaky") as store:
        await store.append("warm-up", HI)
        proxy.drop_reply_to(b"EVALSHA", times=2)
        with pytest.raises(SessionError, match="could not append to session 's'"):
            await store.append("s", TURN)
        assert proxy.dropped == 2
        assert await store.load("s") == TURN
        await store.delete("s")
        await store.delete("warm-up")
