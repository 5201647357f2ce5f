"""The coredis client factory: URLs, single node and cluster, no silent re-sends, slots."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import coredis
import pytest
from coredis.retry import NoRetryPolicy

from aether import ConfigurationError
from aether.extensions.redis import (
    CoredisClient,
    LuaScript,
    RedisConnectionError,
    RedisError,
    RedisHandle,
    RedisNotOpenError,
    RedisReplyError,
    RedisTimeoutError,
    create_redis_client,
    hash_slot,
    hash_tag,
    parse_redis_url,
    redis_errors,
    same_slot_key,
)
from aether.testing.redis_server import RedisServer

# -- URLs and slots, no server ----------------------------------------------------------


def test_cluster_urls_list_their_startup_nodes() -> None:
    settings = parse_redis_url("redis+cluster://bob:s%40cret@10.0.0.1:7000,[::1]:7001,h3")
    assert settings.cluster
    assert settings.nodes == (("10.0.0.1", 7000), ("::1", 7001), ("h3", 6379))
    assert (settings.username, settings.password) == ("bob", "s@cret")
    assert "s@cret" not in repr(settings)
    assert settings.describe() == "redis+cluster://bob:***@10.0.0.1:7000,::1:7001,h3:6379"


def test_a_cluster_url_with_a_database_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="only database 0"):
        parse_redis_url("redis+cluster://127.0.0.1:7000/3")


def test_single_node_clients_never_resend_a_command() -> None:
    client = create_redis_client("redis://127.0.0.1:6379/2")
    assert type(client) is coredis.Redis
    assert isinstance(client.retry_policy, NoRetryPolicy)


@pytest.mark.redis
async def test_cluster_clients_retry_only_clusterdown(redis_cluster_url: str) -> None:
    handle = RedisHandle(redis_cluster_url, what="test")
    await handle.open()
    try:
        assert type(handle.client) is coredis.RedisCluster
        policy = handle.client.retry_policy
        assert policy.will_retry(coredis.exceptions.ClusterDownError("CLUSTERDOWN"))
        assert not policy.will_retry(coredis.exceptions.ConnectionError("lost"))
        assert not policy.will_retry(TimeoutError())
    finally:
        await handle.aclose()


def test_a_bad_pool_size_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        create_redis_client("redis://127.0.0.1:6379/0", max_connections=0)


@pytest.mark.parametrize(
    ("key", "tagged"),
    [("plain", b"plain"), ("a{tenant:1}b", b"tenant:1"), ("a{}b{c}", b"a{}b{c}")],
)
def test_hash_tags_follow_the_cluster_rule(key: str, tagged: bytes) -> None:
    assert hash_tag(key) == tagged


def test_hash_slots_match_redis() -> None:
    # Values from the Redis Cluster specification and CLUSTER KEYSLOT.
    assert hash_slot("123456789") == 0x31C3 % 16384
    assert hash_slot("{user1000}.following") == hash_slot("{user1000}.followers")


@pytest.mark.parametrize(
    "key", ["app:session:alice", "app:session:{alice}", "app:s:a}b", "a{}b", "x{{y}z"]
)
def test_a_same_slot_key_lands_with_its_key(key: str) -> None:
    sibling = same_slot_key(key, ":turns")
    assert sibling.endswith(":turns")
    assert hash_slot(sibling) == hash_slot(key)


def test_a_handle_refuses_what_is_not_a_client() -> None:
    with pytest.raises(ConfigurationError, match=r"coredis\.Redis / coredis\.RedisCluster"):
        RedisHandle(42, what="store")  # type: ignore[arg-type]


def test_a_handle_used_before_opening_says_how_to_open_it() -> None:
    handle = RedisHandle("redis://:hunter2@127.0.0.1:1/0", what="store")
    with pytest.raises(RedisNotOpenError, match="async with store:") as caught:
        handle.client  # noqa: B018
    assert "hunter2" not in str(caught.value)


@pytest.mark.usefixtures("failed_redis_connections")
@pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning")
async def test_a_shared_client_used_before_opening_says_how_to_open_it() -> None:
    client = create_redis_client("redis://:hunter2@127.0.0.1:1/0")
    handle = RedisHandle(client, what="store")
    with pytest.raises(RedisNotOpenError, match="async with client:") as caught, handle.errors():
        await handle.client.get("k")
    assert "hunter2" not in str(caught.value)


# -- against real servers -----------------------------------------------------------------


@pytest.mark.redis
async def test_errors_map_to_aethers(redis_url: str) -> None:
    handle = RedisHandle(redis_url, what="store")
    await handle.open()
    try:
        key = f"test:{uuid.uuid4().hex}"
        with handle.errors():
            await handle.client.set(key, "a string")
        with pytest.raises(RedisReplyError) as caught, handle.errors():
            await handle.client.lrange(key, 0, -1)
        assert caught.value.code == "WRONGTYPE"
    finally:
        await handle.aclose()


async def test_an_unreachable_server_is_a_connection_error() -> None:
    async with create_redis_client("redis://127.0.0.1:1/0", connect_timeout=1) as client:
        with pytest.raises(RedisConnectionError), redis_errors("redis://127.0.0.1:1/0"):
            await client.ping()


@pytest.mark.redis
async def test_a_script_runs_on_the_local_cluster(
    redis_cluster_client: coredis.RedisCluster[bytes],
) -> None:
    cluster = redis_cluster_client
    tag = uuid.uuid4().hex
    keys = [f"{{{tag}}}:a", f"{{{tag}}}:b"]
    script = cluster.register_script(
        "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]);"
        " return redis.call('MGET', KEYS[1], KEYS[2])"
    )
    assert await script(keys=keys, args=["v"]) == [b"v", b"v"]
    shards = await cluster.cluster_shards()
    assert len(shards) == 3  # three primaries share the 16384 slots


@pytest.mark.parametrize("name", ["RedisClient", "RedisScript", "Reply", "RedisProtocolError"])
def test_a_removed_name_says_what_replaces_it(name: str) -> None:
    with pytest.raises(ImportError, match="moved to coredis; use"):
        exec(f"from aether.extensions.redis import {name}", {})


@pytest.mark.redis
async def test_lua_scripts_load_themselves_where_missing(
    redis_cluster_client: coredis.RedisCluster[bytes],
) -> None:
    script = LuaScript(f"return {{KEYS[1], ARGV[1], '{uuid.uuid4().hex}'}}")
    await redis_cluster_client.script_flush()
    first = await script(redis_cluster_client, ["{t}:k"], ["v"])
    second = await script(redis_cluster_client, ["{t}:k"], ["v"])
    assert first == second
    assert first[:2] == [b"{t}:k", b"v"]


# -- what a URL carries: credentials, database, TLS, unix sockets, timeouts ---------------


@pytest.mark.redis
async def test_a_username_and_password_authenticate(
    redis_client: CoredisClient, redis_url: str
) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    await redis_client.acl_setuser(user, "on", ">pw", "~*", "+@all")
    try:
        async with create_redis_client(redis_url.replace("redis://", f"redis://{user}:pw@")) as ok:
            assert await ok.acl_whoami() == user.encode()
        wrong = create_redis_client(redis_url.replace("redis://", f"redis://{user}:nope@"))
        async with wrong:
            with pytest.raises(RedisError) as caught, redis_errors("that server"):
                await wrong.ping()
        assert "nope" not in str(caught.value)
    finally:
        await redis_client.acl_deluser([user])


@pytest.mark.redis
async def test_the_database_number_is_selected(redis_url: str) -> None:
    async with create_redis_client(redis_url.rsplit("/", 1)[0] + "/5") as client:
        assert (await client.client_info())["db"] == 5


@pytest.mark.redis
async def test_a_slow_reply_times_out_and_the_client_goes_on(redis_url: str) -> None:
    async with create_redis_client(redis_url, timeout=0.05) as client:
        with pytest.raises(RedisTimeoutError), redis_errors("that server"):
            await client.blpop([f"test:{uuid.uuid4().hex}"], timeout=2)
        assert await client.ping() == b"PONG"


@pytest.mark.redis
async def test_a_cancelled_command_leaves_the_client_usable(redis_client: CoredisClient) -> None:
    with anyio.move_on_after(0.05):
        await redis_client.blpop([f"test:{uuid.uuid4().hex}"], timeout=5)
    assert await redis_client.ping() == b"PONG"


@pytest.fixture
def tls_redis(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    """A second server that also listens with TLS, on a self-signed certificate."""
    if shutil.which("openssl") is None or RedisServer.executable() is None:
        pytest.skip("the TLS test needs the openssl and redis-server binaries")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = RedisServer.free_port()
    arguments = ["--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file",
                 str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]  # fmt: skip
    with RedisServer(extra_arguments=arguments):
        yield f"rediss://127.0.0.1:{port}/0", ssl.create_default_context(cafile=str(cert))


@pytest.mark.redis
async def test_rediss_urls_connect_with_tls(tls_redis: tuple[str, ssl.SSLContext]) -> None:
    url, context = tls_redis
    async with create_redis_client(url, ssl_context=context) as client:
        assert await client.ping() == b"PONG"


@pytest.mark.redis
async def test_a_unix_socket_url_connects(tmp_path: Path) -> None:
    if RedisServer.executable() is None:
        pytest.skip("needs redis-server")
    path = tmp_path / "redis.sock"
    with RedisServer(extra_arguments=["--unixsocket", str(path)]):
        async with create_redis_client(f"unix://{path}?db=1") as client:
            assert await client.ping() == b"PONG"
            assert (await client.client_info())["db"] == 1
