"""``http_get``: fetch a URL for the model, guarded against server-side request forgery.

A model can be talked into fetching ``http://169.254.169.254/`` (cloud credentials) or
``http://localhost:6379/``. So, on every hop, redirects included:

- only ``http`` and ``https`` URLs are fetched;
- the host is resolved first, and refused unless EVERY address it resolves to is a
  public internet address: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
  link-local (169.254/16, where cloud metadata lives, and fe80::/10), shared (100.64/10,
  Alibaba's metadata), multicast, reserved and unspecified addresses are refused, as are
  IPv4 addresses hidden in IPv6 ones (``::ffff:127.0.0.1``, IPv4-compatible and
  -translated forms, NAT64 of both prefixes, 6to4, Teredo) and site-local ``fec0::/10``;
- the connection goes to the address that was checked (the request is pinned to it,
  with the original Host header and TLS server name), so a DNS answer that changes
  between the check and the connection (DNS rebinding) cannot slip through;
- redirects are followed by hand, at most 5, each one checked the same way.

``AETHER_HTTP_TOOL_ALLOW_HOSTS`` lets chosen hosts through: comma-separated names
(matched exactly), addresses or networks, such as ``localhost,10.1.2.3,10.8.0.0/16``.
Proxy variables and ``.netrc`` are ignored, so no credential is sent anywhere by accident.
The body is cut at ``AETHER_HTTP_TOOL_MAX_BYTES`` (after decompression) with a marker, and
the whole fetch must finish within ``AETHER_HTTP_TOOL_TIMEOUT`` seconds. Only gzip and
deflate are accepted and decoded, in bounded steps, so a decompression bomb costs no more
than a long body; another encoding is reported, not shown. A charset that is not a text
encoding (``hex``, ``bz2_codec``), names no document encoding (``idna``, ``punycode``,
``undefined``) or cannot decode the body (UTF-16 without its byte-order mark) gives way to
UTF-8.
"""

from __future__ import annotations

import codecs
import functools
import ipaddress
import socket
import ssl
import zlib
from collections.abc import Sequence
from typing import Any

import anyio
import certifi
import httpx

from aether import config
from aether.errors import AetherError
from aether.tools.registry import register_tool

__all__ = ["MAX_REDIRECTS", "UnsafeURLError", "fetch_url", "http_get", "is_public_address"]

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_IPV4_IN_LOW_BITS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local use
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    )
)
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")
_BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
_USER_AGENT = "aether-http-get/0.1 (+https://github.com/aether-llm)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(AetherError, PermissionError):
    """The URL, or a redirect it led to, points where ``http_get`` may not go."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _IPV4_IN_LOW_BITS):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a public internet address (and hides no private one)."""
    if address.is_multicast or address.is_reserved or not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return False
        return all(is_public_address(inner) for inner in _embedded_ipv4(address))
    return True


def _describe(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address) and not (
        address.is_loopback or address.is_unspecified  # ::1 and :: are in ::/96 too
    ):
        for inner in _embedded_ipv4(address):
            if not is_public_address(inner):
                return f"an address that hides {inner}, {_describe(inner)}"
    for attribute, label in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "the unspecified address"),
        ("is_link_local", "a link-local address (where cloud metadata services live)"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, attribute):
            return label
    return "not a public internet address"


def _allowed(host: str, addresses: Sequence[IPAddress], allow: Sequence[str]) -> bool:
    if host.lower().rstrip(".") in allow:
        return True
    networks = []
    for item in allow:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue
    return all(any(address in network for network in networks) for address in addresses)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise ConnectionError(f"cannot resolve the host {host!r}: {error}") from None
    addresses: dict[IPAddress, None] = {}
    for info in infos:
        addresses[ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])] = None
    if not addresses:
        raise ConnectionError(f"the host {host!r} resolves to no address")
    return list(addresses)


async def _checked_addresses(url: httpx.URL, allow: Sequence[str]) -> list[IPAddress]:
    if url.scheme not in ("http", "https"):
        raise UnsafeURLError(
            f"refused {str(url)!r}: http_get fetches http:// and https:// URLs only"
        )
    host = url.raw_host.decode("ascii")
    if not host:
        raise UnsafeURLError(f"refused {str(url)!r}: the URL has no host")
    addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80))
    if _allowed(host, addresses, allow):
        return addresses
    for address in addresses:
        if not is_public_address(address):
            where = f"{host} is" if _is_literal(host) else f"{host} resolves to {address},"
            raise UnsafeURLError(
                f"refused {str(url)!r}: {where} {_describe(address)}, and http_get fetches "
                f"public internet addresses only. To let it reach this host, add it to "
                f"AETHER_HTTP_TOOL_ALLOW_HOSTS."
            )
    return addresses


async def _send_pinned(
    client: httpx.AsyncClient, url: httpx.URL, allow: Sequence[str]
) -> httpx.Response:
    addresses = await _checked_addresses(url, allow)
    host = url.raw_host.decode("ascii")
    failure: httpx.ConnectError | None = None
    for address in addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={"Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": host},
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as error:
            failure = error
    assert failure is not None
    raise failure


def _is_text(content_type: str, sample: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media.startswith(_TEXT_TYPES) or media.endswith(_TEXT_SUFFIXES):
        return True
    if media.startswith(_BINARY_TYPES):
        return False
    # Unknown or generic types (servers label text files octet-stream): look at the bytes.
    if b"\x00" in sample:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


class _UnsupportedEncoding(Exception):
    """The server compressed the body in a way http_get does not decode."""


def _decompressor(content_encoding: str) -> Any:
    """A zlib decompressor for the body's encoding, or ``None`` for an unencoded body.

    Only gzip and deflate are asked for and decoded, by zlib with a bound on each step's
    output: a small compressed body that would inflate to gigabytes (a decompression
    bomb) is cut at the byte limit like any long body, and never held whole.
    """
    encodings = [item.strip().lower() for item in content_encoding.split(",") if item.strip()]
    encodings = [item for item in encodings if item != "identity"]
    if not encodings:
        return None
    if encodings in (["gzip"], ["x-gzip"]):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encodings == ["deflate"]:
        return zlib.decompressobj()
    raise _UnsupportedEncoding(content_encoding)


async def _read_limited(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    body = bytearray()
    truncated = False
    decompressor = _decompressor(response.headers.get("content-encoding", ""))
    try:
        async for piece in response.aiter_raw():
            if truncated:
                continue
            if decompressor is None:
                body += piece
            else:
                data = piece
                while data and len(body) <= limit:
                    body += decompressor.decompress(data, limit + 1 - len(body))
                    data = decompressor.unconsumed_tail
            if len(body) > limit:
                truncated = True
                del body[limit:]
                # Stop the download. Breaking out instead would leave httpx's nested
                # async generators suspended, which trio reports when they are collected;
                # closing the response ends them all with a read error, caught below.
                await response.aclose()
    except (httpx.TransportError, httpx.StreamError):
        if not truncated:
            raise
    except zlib.error as error:
        raise httpx.DecodingError(f"the compressed body is corrupt: {error}") from None
    return bytes(body), truncated


_NOT_DOCUMENT_CHARSETS = frozenset({"idna", "punycode", "undefined"})
"""Codecs Python knows by name that no document is written in (host names, a stub)."""


def _text_decoder(encoding: str | None) -> codecs.IncrementalDecoder:
    # A charset the server names may be any codec Python knows, bytes-to-bytes ones
    # included (hex, bz2_codec...): only text encodings are used, else UTF-8.
    try:
        info = codecs.lookup(encoding or "utf-8")
    except LookupError:
        info = codecs.lookup("utf-8")
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_DOCUMENT_CHARSETS:
        info = codecs.lookup("utf-8")
    return info.incrementaldecoder(errors="replace")


def _decoded(body: bytes, encoding: str | None, *, final: bool) -> str:
    """``body`` as text in ``encoding``, else UTF-8 (with replacements) if that fails.

    Some decoders refuse the ``replace`` error handler or the body itself (UTF-16 and
    UTF-32 without their byte-order mark); a codec's own decoder may raise anything.
    """
    try:
        return _text_decoder(encoding).decode(body, final=final)
    except Exception:
        return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(body, final=final)


async def _render(response: httpx.Response, url: httpx.URL, limit: int, hops: int) -> str:
    content_type = response.headers.get("content-type", "")
    head = f"HTTP {response.status_code} {response.reason_phrase}"
    if hops:
        head += f"\nURL: {url} (after {hops} redirect{'s' if hops > 1 else ''})"
    head += f"\nContent-Type: {content_type or 'unknown'}\n\n"
    try:
        body, truncated = await _read_limited(response, limit)
    except _UnsupportedEncoding as error:
        return f"{head}[content encoded as {error}, which http_get does not decode; not shown]"
    if not _is_text(content_type, body[:1024]):
        size = f"more than {limit}" if truncated else str(len(body))
        return f"{head}[binary content of {size} bytes; not shown]"
    text = _decoded(body, response.charset_encoding, final=not truncated)
    if truncated:
        text += (
            f"\n\n[truncated: the body is longer than {limit} bytes; only the first {limit} "
            f"are shown]"
        )
    return head + text


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


async def fetch_url(
    url: str,
    *,
    allow_hosts: Sequence[str] | None = None,
    max_bytes: int | None = None,
    deadline: float | None = None,
) -> str:
    """GET ``url`` with the SSRF guard and return the status line, type and body as text.

    Args:
        url: An absolute ``http://`` or ``https://`` URL.
        allow_hosts: Hosts, addresses or networks let through the guard; by default
            ``AETHER_HTTP_TOOL_ALLOW_HOSTS``.
        max_bytes: Body bytes kept; by default ``AETHER_HTTP_TOOL_MAX_BYTES``.
        deadline: Seconds for the whole fetch; by default ``AETHER_HTTP_TOOL_TIMEOUT``.

    Raises:
        UnsafeURLError: If the URL or a redirect points where the guard refuses to go.
        TimeoutError: If the fetch takes longer than the deadline.
        ConnectionError: If the host cannot be resolved.
        httpx.HTTPError: If the connection fails.
    """
    allow = tuple(item.lower() for item in allow_hosts) if allow_hosts is not None else None
    allow = allow if allow is not None else config.http_tool_allow_hosts()
    limit = config.http_tool_max_bytes(max_bytes)
    seconds = config.http_tool_timeout(deadline)
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ValueError(f"{url!r} is not a valid URL: {error}") from None
    try:
        with anyio.fail_after(seconds):
            async with httpx.AsyncClient(
                verify=_ssl_context(),
                timeout=seconds,
                trust_env=False,
                follow_redirects=False,
                headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            ) as client:
                for hops in range(MAX_REDIRECTS + 1):
                    response = await _send_pinned(client, current, allow)
                    try:
                        location = response.headers.get("location")
                        if response.status_code not in _REDIRECT_STATUSES or not location:
                            return await _render(response, current, limit, hops)
                    finally:
                        await response.aclose()
                    current = current.join(location)
    except (TimeoutError, httpx.TimeoutException):
        raise TimeoutError(f"no complete answer from {url!r} within {seconds:g} seconds") from None
    raise UnsafeURLError(f"refused {url!r}: more than {MAX_REDIRECTS} redirects")


@register_tool(description="Fetch a web page or API response with an HTTP GET request.")
async def http_get(url: str) -> str:
    """Return the response's status, content type and body (long bodies are truncated).

    Args:
        url: The absolute http:// or https:// URL to fetch.
    """
    return await fetch_url(url)
