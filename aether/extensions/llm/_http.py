"""HTTP plumbing shared by the SDK-backed adapters: clients, timeouts, ``Retry-After``.

The vendor SDKs (openai, anthropic, google-genai) run on ``httpx2``, a fork of httpx
whose classes are not httpx's. So a client or transport handed to an adapter is an
``httpx2`` one (``httpx2.AsyncClient``, ``httpx2.MockTransport``,
``httpx2.AsyncHTTPTransport(proxy=...)``); openai and google-genai also accept a plain
``httpx.AsyncClient``. httpx2 is imported here only when a client is built, so ``import
aether`` stays free of it.
"""

from __future__ import annotations

import email.utils
import functools
import math
import os
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aether.errors import ConfigurationError

__all__ = [
    "CLEANUP_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "body_chunks",
    "header",
    "lean_http_enabled",
    "parse_duration",
    "refusing_sync_client",
    "release_body",
    "resolve_http_client",
    "retry_after_seconds",
    "shared_ssl_context",
    "timeout_seconds",
]

DEFAULT_TIMEOUT = 600.0
"""Seconds a whole request may take by default: long generations run for minutes."""

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to establish a connection by default."""

CLEANUP_TIMEOUT = 5.0
"""Seconds a stream may spend closing its HTTP response, shielded from cancellation: a
cancelled stream still releases its connection, and a stuck close cannot hang it."""


async def release_body(
    iterator: AsyncIterator[bytes], close_response: Callable[[], Awaitable[None]]
) -> None:
    """Close a response body part-way through, leaving no generator to the collector.

    httpx2's transport reads httpcore's body through an async generator it never closes,
    so closing the body's iterator where it paused leaves httpcore's generator to the
    garbage collector, which trio reports as a ``ResourceWarning``. Closing the response
    first closes the connection (a half-read body cannot be reused); the iterator then
    ends, or fails, at its next read, and every generator under it finishes normally.
    Errors while doing so are dropped: the body was being given up.
    """
    try:
        await close_response()
        async for _ in iterator:
            pass
    except Exception:  # a read on the closed connection failing is the expected end
        pass
    finally:
        if isinstance(iterator, AsyncGenerator):
            await iterator.aclose()


def body_chunks(response: Any) -> AsyncIterator[bytes]:
    """The body of an httpx2 (or httpx) response, as ``aiter_bytes`` gives it.

    A body without a content coding is read straight from the transport's stream:
    httpx2's decoder and chunker layers would only copy it (about 1 µs per streamed
    chunk). A coded one (gzip...) is decoded by httpx2 as usual.
    """
    coding = response.headers.get("content-encoding")
    if coding is None or coding.strip().lower() == "identity":
        stream: AsyncIterator[bytes] = response.stream.__aiter__()
        return stream
    chunks: AsyncIterator[bytes] = response.aiter_bytes()
    return chunks


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, found case-insensitively in any mapping (``None`` if absent)."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _non_negative(value: float) -> float | None:
    return value if math.isfinite(value) and value >= 0 else None


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, else ``Retry-After``.

    ``Retry-After`` may be seconds or an HTTP date; a date in the past means 0. Values
    that cannot be read are ignored (``None``), never guessed.
    """
    milliseconds = header(headers, "retry-after-ms")
    if milliseconds:
        try:
            parsed = _non_negative(float(milliseconds) / 1000.0)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
    value = header(headers, "retry-after")
    if not value:
        return None
    try:
        return _non_negative(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_duration(value: object) -> float | None:
    """Seconds from a protobuf JSON duration such as ``"37s"`` or ``"0.5s"``."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        return _non_negative(float(value[:-1]))
    except ValueError:
        return None


def timeout_seconds(timeout: Any) -> float:
    """The overall seconds of a float or an httpx(2) ``Timeout`` (its read timeout)."""
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else DEFAULT_TIMEOUT


def resolve_http_client(
    *,
    provider: str,
    http_client: Any,
    transport: Any,
    timeout: Any,
    always: bool = False,
) -> tuple[Any, bool]:
    """The HTTP client an adapter hands its SDK, and whether the adapter owns it.

    A client the user passed is used as is and stays theirs to close. A transport gets
    a new ``httpx2.AsyncClient`` around it, owned (and closed) by the adapter. With
    neither, ``always`` builds a default client (the SDKs' connection limits, proxies
    from the environment, the process's shared TLS context); otherwise ``None`` lets the
    SDK build its own. (The lean adapters pass their `LeanTransport` as ``transport``.)

    Raises:
        ConfigurationError: If both a client and a transport were given.
    """
    if http_client is not None and transport is not None:
        raise ConfigurationError(
            f"the {provider} provider got both http_client= and transport=: pass one "
            f"(put the transport inside your client, or let the provider build the client)"
        )
    if http_client is not None:
        return http_client, False
    if transport is None and not always:
        return None, True
    import httpx2

    if timeout is None:
        timeout = httpx2.Timeout(DEFAULT_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
    client = httpx2.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
        # The vendor SDKs' own limits; one TLS context for the process (building one
        # loads the CA bundle, about 15 ms, and a client is built per event loop).
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
        verify=shared_ssl_context(),
    )
    return client, True


def lean_http_enabled() -> bool:
    """Whether a lean adapter may use `LeanTransport` and post to its transport directly:
    not switched off by ``AETHER_LEAN_HTTP=0``, and no proxy set in the environment
    (httpcore2 handles proxies)."""
    if os.environ.get("AETHER_LEAN_HTTP", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    import urllib.request

    return not any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


def refusing_sync_client(message: str) -> Any:
    """An ``httpx2.Client`` that raises ``RuntimeError(message)`` on any request.

    For SDKs that insist on a sync client next to the async one Aether uses: building
    their default one loads a CA bundle (about 120 ms) for nothing.
    """
    import httpx2

    class RefusingTransport(httpx2.BaseTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            raise RuntimeError(message)

    return httpx2.Client(transport=RefusingTransport())


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One default TLS context for the process, built on first use (certifi's CAs)."""
    import certifi

    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE", certifi.where()),
        capath=os.environ.get("SSL_CERT_DIR"),
    )
