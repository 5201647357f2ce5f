"""How a toolset reaches its server: a process over stdio, streamable HTTP, or legacy SSE.

Each transport opens the `mcp` SDK's own client transport. The stream the server's
messages arrive on is watched, so a server that exits (its stdout ends) is noticed at
once, not at the next call.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO
from urllib.parse import urlsplit, urlunsplit

import anyio

from aether.errors import ConfigurationError

if TYPE_CHECKING:
    import httpx2
    from mcp.client import Transport
    from mcp.shared._stream_protocols import ReadStream, WriteStream
    from mcp.shared.message import SessionMessage

__all__ = ["HTTPTransport", "StdioTransport", "TransportSpec", "http_transport", "watched"]

_Streams = tuple["ReadStream[SessionMessage | Exception]", "WriteStream[SessionMessage]"]


class TransportSpec(Protocol):
    """Opens one connection to a server; describes it without secrets."""

    def open(self) -> Transport:
        """An async context manager yielding the SDK's (read, write) streams."""
        ...

    def describe(self) -> str:
        """What the server is, for reprs and error messages (no headers, no env values)."""
        ...

    def scrub(self, text: str) -> str:
        """``text`` (an error message) without this transport's secrets."""
        ...


_SHORTEST_SECRET = 8
"""Shorter values are not scrubbed: they would mangle ordinary words, and are no keys."""


def _without(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, "***")
    return text


_SCRIPT = re.compile(r"[\w./\\-]+\.(py|js|mjs|cjs|ts)|@[\w.-]+/[\w.-]+")
"""A script file or an npm package: what names a stdio server without exposing its options."""


def _stderr() -> TextIO:
    # The SDK hands this to the child process, which needs a real file descriptor;
    # a replaced sys.stderr (pytest's capsys, a notebook) may not have one.
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or open(os.devnull, "w")
    return sys.stderr


@dataclass(frozen=True, slots=True)
class StdioTransport:
    """A server started as a child process, speaking MCP on its stdin and stdout."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | os.PathLike[str] | None = None

    def open(self) -> Transport:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        parameters = StdioServerParameters(
            command=self.command,
            args=list(self.args),
            env=dict(self.env) if self.env is not None else None,
            cwd=os.fspath(self.cwd) if self.cwd is not None else None,
        )
        return stdio_client(parameters, errlog=_stderr())

    def describe(self) -> str:
        # The program and its script or package, never other arguments (they may be keys).
        shown = [os.path.basename(self.command)]
        script = next((arg for arg in self.args if _SCRIPT.fullmatch(arg)), None)
        if script is not None:
            shown.append(script if script.startswith("@") else os.path.basename(script))
        return f"stdio server {' '.join(shown)!r}"

    def scrub(self, text: str) -> str:
        values = list(self.env.values()) if self.env else []
        return _without(text, [*values, *(arg for arg in self.args if not _SCRIPT.fullmatch(arg))])


def _public_url(url: str) -> str:
    # Userinfo and query strings can carry credentials; reprs and errors leave them out.
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True, slots=True)
class HTTPTransport:
    """A server reached over streamable HTTP, or over the legacy HTTP+SSE transport."""

    url: str
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    auth: httpx2.Auth | None = field(default=None, repr=False)
    sse: bool = False

    def open(self) -> Transport:
        return self._open()

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[_Streams]:
        headers = dict(self.headers) if self.headers else None
        if self.sse:
            from mcp.client.sse import sse_client

            async with sse_client(self.url, headers=headers, auth=self.auth) as streams:
                yield streams
            return
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                create_mcp_http_client(headers=headers, auth=self.auth)
            )
            yield await stack.enter_async_context(
                streamable_http_client(self.url, http_client=client)
            )

    def describe(self) -> str:
        kind = "SSE" if self.sse else "HTTP"
        return f"{kind} server {_public_url(self.url)}"

    def scrub(self, text: str) -> str:
        # httpx errors quote the URL they requested, query string and user info included.
        parts = urlsplit(self.url)
        secrets = [parts.query, parts.password or "", *(self.headers or {}).values()]
        return _without(text.replace(self.url, _public_url(self.url)), secrets)


class _WatchedReceive:
    """The server's message stream, setting ``ended`` when it ends (the server is gone)."""

    __slots__ = ("_ended", "_inner")

    def __init__(self, inner: Any, ended: anyio.Event) -> None:
        self._inner = inner
        self._ended = ended

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._ended.set()
            raise

    def __aiter__(self) -> _WatchedReceive:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedReceive:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        # `last_context` (the sender's contextvars) and anything else the SDK reads.
        return getattr(self._inner, name)


def http_transport(
    url: str,
    headers: Mapping[str, str] | None,
    auth: httpx2.Auth | str | None,
    *,
    sse: bool,
) -> HTTPTransport:
    """An HTTP transport; a string ``auth`` is a bearer token.

    Raises:
        ConfigurationError: If ``url`` is not an http(s) URL.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"the MCP server URL must start with http:// or https://: {url!r}")
    if isinstance(auth, str):
        headers = {**(headers or {}), "Authorization": f"Bearer {auth}"}
        auth = None
    return HTTPTransport(url, headers, auth, sse)


@asynccontextmanager
async def watched(transport: Transport, ended: anyio.Event) -> AsyncIterator[tuple[Any, Any]]:
    """``transport``'s streams, the receiving one setting ``ended`` when the server is gone."""
    async with transport as (read_stream, write_stream):
        yield _WatchedReceive(read_stream, ended), write_stream
