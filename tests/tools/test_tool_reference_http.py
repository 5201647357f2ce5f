"""Security and behaviour of http_get, against a real HTTP server on loopback.

Loopback is refused by default; tests that need the server allow it explicitly with
AETHER_HTTP_TOOL_ALLOW_HOSTS (or allow_hosts=...).
"""

from __future__ import annotations

import gzip
import ipaddress
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from _tool_helpers import asks, call, says
from hypothesis import given
from hypothesis import strategies as st

import aether.extensions.tools  # noqa: F401 - registers http_get
from aether import Aether
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.tools.http import UnsafeURLError, fetch_url, is_public_address


@dataclass
class Server:
    port: int
    hits: list[tuple[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(port=0)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.hits.append((self.path, self.headers.get("Host", "")))
            path = urlsplit(self.path).path
            query = parse_qs(urlsplit(self.path).query)
            if path == "/hello":
                self.reply(200, b"hello from loopback", "text/plain; charset=utf-8")
            elif path == "/big":
                self.reply(200, b"x" * 5000)
            elif path == "/binary":
                self.reply(200, b"\x89PNG\r\n\x1a\n\x00\x00\x00", "image/png")
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/gzip-bomb":
                # 20 MB of zeros in about 20 KB: decoded only up to the byte limit.
                packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                body = packer.compress(b"\0" * 20_000_000) + packer.flush()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/gzip":
                body = gzip.compress(b"compressed hello")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/zstd":
                state.hits.append(("accept-encoding", self.headers.get("Accept-Encoding", "")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Encoding", "zstd")
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"\x28\xb5\x2f\xfd")
            elif path == "/hex-charset":
                self.reply(200, b"hello", "text/plain; charset=hex")
            elif path == "/charset":
                # A charset the codec machinery knows but cannot decode this body with.
                body = "caf\u00e9 cr\u00e8me".encode()
                self.reply(200, body, f"text/plain; charset={query['name'][0]}")
            elif path == "/slow":
                state.release.wait(5)
                self.reply(200, b"late")
            else:
                self.reply(404, b"not found")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


async def test_allowed_loopback_server_is_fetched_through_the_tool_loop(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_HTTP_TOOL_ALLOW_HOSTS", "127.0.0.1")
    fake = FakeProvider(
        responses=[asks(call("http_get", url=server.url("/hello"))), says("It says hello.")]
    )
    assert await Aether(fake).ask("fetch it", tools=["http_get"]) == "It says hello."
    result = fake.requests[1].messages[-1].content
    assert result == ("HTTP 200 OK\nContent-Type: text/plain; charset=utf-8\n\nhello from loopback")


async def test_loopback_is_refused_by_default_and_never_contacted(server: Server) -> None:
    fake = FakeProvider(responses=[asks(call("http_get", url=server.url("/hello"))), says("ok")])
    await Aether(fake).ask("fetch it", tools=["http_get"])
    result = fake.requests[1].messages[-1].content
    assert result.startswith("Error: tool 'http_get' raised UnsafeURLError: refused")
    assert "127.0.0.1 is a loopback address" in result
    assert server.hits == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1.2.3:8080/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.100.100.200/", "not a public"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "hides 127.0.0.1, a loopback address"),
        ("http://[64:ff9b::a9fe:a9fe]/", "hides 169.254.169.254"),
        ("http://[fd00:ec2::254]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://localhost/", "localhost resolves to"),
    ],
)
async def test_non_public_destinations_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError, match="refused") as caught:
        await fetch_url(url)
    assert reason in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/"])
async def test_schemes_other_than_http_and_https_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="http:// and https:// URLs only"):
        await fetch_url(url)


async def test_redirect_to_loopback_is_refused_on_that_hop(server: Server) -> None:
    target = server.url("/hello")
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1 is a loopback address"):
        await fetch_url(
            server.url(f"/redirect?to={target}", host="localhost"), allow_hosts=["localhost"]
        )
    assert [path for path, _ in server.hits] == [f"/redirect?to={target}"]


async def test_allowed_redirect_is_followed_and_reported(server: Server) -> None:
    target = server.url("/hello")
    content = await fetch_url(server.url(f"/redirect?to={target}"), allow_hosts=["127.0.0.0/8"])
    assert content.startswith(f"HTTP 200 OK\nURL: {target} (after 1 redirect)\n")
    assert content.endswith("hello from loopback")


async def test_redirect_chain_is_cut_after_five_hops(server: Server) -> None:
    with pytest.raises(UnsafeURLError, match="more than 5 redirects"):
        await fetch_url(server.url("/loop"), allow_hosts=["127.0.0.1"])
    assert len(server.hits) == 6


async def test_request_is_pinned_to_the_checked_address_keeping_the_host_header(
    server: Server,
) -> None:
    await fetch_url(server.url("/hello", host="localhost"), allow_hosts=["localhost"])
    assert server.hits == [("/hello", f"localhost:{server.port}")]


async def test_body_is_truncated_at_the_limit_with_a_marker(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_HTTP_TOOL_MAX_BYTES", "100")
    content = await fetch_url(server.url("/big"), allow_hosts=["127.0.0.1"])
    body = content.split("\n\n", 1)[1]
    assert body == "x" * 100 + (
        "\n\n[truncated: the body is longer than 100 bytes; only the first 100 are shown]"
    )


async def test_slow_server_times_out_at_the_configured_limit(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_HTTP_TOOL_TIMEOUT", "0.2")
    with anyio.fail_after(5), pytest.raises(TimeoutError, match=r"within 0\.2 seconds"):
        await fetch_url(server.url("/slow"), allow_hosts=["127.0.0.1"])


async def test_binary_body_is_reported_not_dumped(server: Server) -> None:
    content = await fetch_url(server.url("/binary"), allow_hosts=["127.0.0.1"])
    assert (
        content == "HTTP 200 OK\nContent-Type: image/png\n\n[binary content of 11 bytes; not shown]"
    )


async def test_a_gzip_body_is_decoded(server: Server) -> None:
    content = await fetch_url(server.url("/gzip"), allow_hosts=["127.0.0.1"])
    assert content.endswith("\n\ncompressed hello")


async def test_a_decompression_bomb_is_cut_at_the_byte_limit(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_HTTP_TOOL_MAX_BYTES", "1000")
    content = await fetch_url(server.url("/gzip-bomb"), allow_hosts=["127.0.0.1"])
    body = content.split("\n\n", 1)[1]
    assert body.startswith("\0" * 1000 + "\n\n[truncated: the body is longer than 1000 bytes")


async def test_encodings_it_did_not_ask_for_are_reported_not_decoded(server: Server) -> None:
    content = await fetch_url(server.url("/zstd"), allow_hosts=["127.0.0.1"])
    assert ("accept-encoding", "gzip, deflate") in server.hits
    assert content.endswith("[content encoded as zstd, which http_get does not decode; not shown]")


async def test_a_charset_that_is_not_a_text_encoding_is_read_as_utf8(server: Server) -> None:
    content = await fetch_url(server.url("/hex-charset"), allow_hosts=["127.0.0.1"])
    assert content.endswith("\n\nhello")


@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode", "utf-16", "utf-32"])
async def test_a_charset_whose_decoder_fails_is_read_as_utf8(server: Server, charset: str) -> None:
    content = await fetch_url(server.url(f"/charset?name={charset}"), allow_hosts=["127.0.0.1"])
    assert content.endswith("\n\ncaf\u00e9 cr\u00e8me")


async def test_error_status_is_content_not_an_exception(server: Server) -> None:
    content = await fetch_url(server.url("/missing"), allow_hosts=["127.0.0.1"])
    assert content.startswith("HTTP 404 Not Found\n")


_blocked_networks = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
]


@given(st.sampled_from(_blocked_networks).flatmap(lambda net: st.ip_addresses(network=net)))
def test_no_address_in_a_blocked_network_is_public(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert not is_public_address(address)


@given(st.sampled_from(_blocked_networks[:7]).flatmap(lambda net: st.ip_addresses(network=net)))
def test_no_ipv6_wrapping_of_a_blocked_ipv4_address_is_public(
    address: ipaddress.IPv4Address,
) -> None:
    packed = int(address)
    for wrapped in (
        ipaddress.IPv6Address((0xFFFF << 32) | packed),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address((0x64FF9B << 96) | packed),  # NAT64
        ipaddress.IPv6Address((0x2002 << 112) | (packed << 80)),  # 6to4
    ):
        assert not is_public_address(wrapped), wrapped


@pytest.mark.parametrize(
    "address",
    [
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
        "::ffff:0:a9fe:a9fe",  # IPv4-translated
        "fec0::1",  # site-local
        "100::1",  # discard-only, reserved
    ],
)
def test_reserved_ipv6_forms_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
