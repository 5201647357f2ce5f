"""The RESP client: the parser on its own, then against a real server on both backends."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from aether import ConfigurationError
from aether.extensions.redis import (
    RedisClient,
    RedisConnectionError,
    RedisProtocolError,
    RedisReplyError,
    RedisScript,
    RedisTimeoutError,
    parse_redis_url,
)
from aether.extensions.redis._protocol import ReplyParser, encode_command
from aether.testing.redis_server import RedisServer

# -- the protocol, no I/O -----------------------------------------------------------------


def test_commands_are_encoded_as_arrays_of_bulk_strings() -> None:
    assert encode_command(["SET", "k", "é", 5, 1.5]) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n$1\r\n5\r\n$3\r\n1.5\r\n"
    )


def test_booleans_are_refused() -> None:
    with pytest.raises(TypeError, match="no booleans"):
        encode_command(["SET", "k", True])


def test_parser_reads_every_reply_type() -> None:
    parser = ReplyParser()
    parser.feed(b"+OK\r\n:42\r\n$5\r\nhe\r\nl\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n-ERR bad\r\n")
    replies = [parser.next_reply() for _ in range(7)]
    assert [reply for _, reply in replies[:6]] == ["OK", 42, b"he\r\nl", None, [b"a", 1], None]
    done, error = replies[6]
    assert done
    assert isinstance(error, RedisReplyError)
    assert error.code == "ERR"
    assert parser.next_reply() == (False, None)


def test_parser_waits_for_a_reply_split_across_reads() -> None:
    parser = ReplyParser()
    payload = b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n"
    for byte in payload[:-1]:
        parser.feed(bytes([byte]))
        assert parser.next_reply() == (False, None)
    parser.feed(payload[-1:])
    assert parser.next_reply() == (True, [b"hello", b"world"])
    assert parser.pending == 0


def test_parser_rejects_bytes_that_are_not_resp() -> None:
    parser = ReplyParser()
    parser.feed(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(RedisProtocolError, match="not RESP2"):
        parser.next_reply()


# -- URLs -------------------------------------------------------------------------------


def test_url_parts_are_parsed() -> None:
    settings = parse_redis_url("rediss://bob:s%40cret@cache.local:6380/3")
    assert (settings.host, settings.port, settings.database, settings.tls) == (
        "cache.local",
        6380,
        3,
        True,
    )
    assert (settings.username, settings.password) == ("bob", "s@cret")


def test_unix_socket_urls_are_parsed() -> None:
    settings = parse_redis_url("unix:///run/redis.sock?db=2")
    assert (settings.unix_path, settings.database) == ("/run/redis.sock", 2)


def test_a_bad_url_reports_every_problem() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_redis_url("http://host/notanumber")
    assert len(caught.value.problems) == 2


def test_the_password_never_appears_in_a_repr() -> None:
    client = RedisClient("redis://bob:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(client)
    assert "hunter2" not in repr(client.settings)
    assert "***" in repr(client)


# -- against a real server -----------------------------------------------------------------


@pytest.mark.redis
async def test_commands_round_trip(redis_client: RedisClient) -> None:
    key = f"test:{uuid.uuid4().hex}"
    assert await redis_client.execute("SET", key, "héllo") == "OK"
    assert await redis_client.execute("GET", key) == "héllo".encode()
    assert await redis_client.execute("DEL", key) == 1


@pytest.mark.redis
async def test_error_replies_raise(redis_client: RedisClient) -> None:
    with pytest.raises(RedisReplyError, match="unknown command") as caught:
        await redis_client.execute("NOSUCHCOMMAND")
    assert caught.value.code == "ERR"


@pytest.mark.redis
async def test_a_pipeline_answers_in_order(redis_client: RedisClient) -> None:
    key = f"test:{uuid.uuid4().hex}"
    replies = await redis_client.execute_many(
        [["RPUSH", key, "a", "b"], ["LRANGE", key, 0, -1], ["DEL", key]]
    )
    assert replies == [2, [b"a", b"b"], 1]


@pytest.mark.redis
async def test_scripts_load_themselves_on_first_use(redis_client: RedisClient) -> None:
    script = RedisScript(f"return {{KEYS[1], ARGV[1], '{uuid.uuid4().hex}'}}")
    await redis_client.execute("SCRIPT", "FLUSH")
    first = await redis_client.run_script(script, keys=["k"], arguments=["v"])
    second = await redis_client.run_script(script, keys=["k"], arguments=["v"])
    assert first == second
    assert isinstance(first, list)
    assert first[:2] == [b"k", b"v"]


@pytest.mark.redis
async def test_a_username_and_password_authenticate(
    redis_client: RedisClient, redis_url: str
) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    await redis_client.execute("ACL", "SETUSER", user, "on", ">pw", "~*", "+@all")
    try:
        authenticated = RedisClient(redis_url.replace("redis://", f"redis://{user}:pw@"))
        assert await authenticated.execute("ACL", "WHOAMI") == user.encode()
        await authenticated.aclose()
        refused = RedisClient(redis_url.replace("redis://", f"redis://{user}:wrong@"))
        with pytest.raises(RedisReplyError, match="refused the connection set-up"):
            await refused.execute("PING")
        await refused.aclose()
    finally:
        await redis_client.execute("ACL", "DELUSER", user)


@pytest.mark.redis
async def test_the_database_number_is_selected(redis_url: str) -> None:
    async with RedisClient(redis_url.rsplit("/", 1)[0] + "/5") as client:
        info = await client.execute("CLIENT", "INFO")
        assert isinstance(info, bytes)
        assert b" db=5 " in info


@pytest.mark.redis
async def test_connections_are_reused(redis_client: RedisClient) -> None:
    first = await redis_client.execute("CLIENT", "ID")
    second = await redis_client.execute("CLIENT", "ID")
    assert first == second


@pytest.mark.redis
async def test_a_connection_closed_by_the_server_is_replaced(redis_client: RedisClient) -> None:
    first = await redis_client.execute("CLIENT", "ID")
    async with RedisClient(redis_client.settings.describe()) as admin:
        await admin.execute("CLIENT", "KILL", "ID", str(first))
    second = await redis_client.execute("CLIENT", "ID")
    assert isinstance(second, int)
    assert second != first


@pytest.mark.redis
async def test_a_cancelled_command_discards_its_connection(redis_client: RedisClient) -> None:
    first = await redis_client.execute("CLIENT", "ID")
    with anyio.move_on_after(0.05):
        await redis_client.execute("BLPOP", f"test:{uuid.uuid4().hex}", 5)
    assert await redis_client.execute("PING") == "PONG"
    assert await redis_client.execute("CLIENT", "ID") != first


@pytest.mark.redis
async def test_a_slow_reply_times_out(redis_url: str) -> None:
    async with RedisClient(redis_url, timeout=0.05) as client:
        with pytest.raises(RedisTimeoutError, match="did not answer within"):
            await client.execute("BLPOP", f"test:{uuid.uuid4().hex}", 2)
        assert await client.execute("PING") == "PONG"


@pytest.mark.redis
async def test_concurrent_commands_share_a_bounded_pool(redis_url: str) -> None:
    async with RedisClient(redis_url, max_connections=3) as client:
        ids: list[object] = []

        async def one() -> None:
            ids.append(await client.execute("CLIENT", "ID"))

        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(one)
        assert len(ids) == 30
        assert len(set(ids)) <= 3


async def test_a_refused_connection_raises_without_the_password() -> None:
    async with RedisClient("redis://bob:hunter2@127.0.0.1:1/0") as client:
        with pytest.raises(RedisConnectionError, match="could not connect") as caught:
            await client.execute("PING")
    assert "hunter2" not in str(caught.value)
    assert "bob:***@127.0.0.1:1" in str(caught.value)


async def test_a_closed_client_refuses_commands() -> None:
    client = RedisClient("redis://127.0.0.1:1/0")
    await client.aclose()
    with pytest.raises(RedisConnectionError, match="closed"):
        await client.execute("PING")


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
    async with RedisClient(url, ssl_context=context) as client:
        assert await client.execute("PING") == "PONG"
        assert await client.execute_many([["ECHO", "a"], ["ECHO", "b"]]) == [b"a", b"b"]


@pytest.mark.redis
async def test_a_unix_socket_url_connects(tmp_path: Path) -> None:
    if RedisServer.executable() is None:
        pytest.skip("needs redis-server")
    path = tmp_path / "redis.sock"
    with RedisServer(extra_arguments=["--unixsocket", str(path)]):
        async with RedisClient(f"unix://{path}?db=1") as client:
            assert await client.execute("PING") == "PONG"
