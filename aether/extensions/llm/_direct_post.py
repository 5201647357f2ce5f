"""Post a provider's JSON straight to its HTTP transport: no SDK request machinery.

The openai SDK spends about a third of a call's CPU building each request (options
models, header merging, URL joining, its retry wrapper) and httpx2's client another
tenth around the transport (auth, redirects, event hooks, cookies), for a request that,
on OpenAI's API with a key, is always the same URL, the same headers and a JSON body.
`DirectPost` builds that request once per provider and per call only adds the body:
it hands an ``httpx2.Request`` to the transport the provider owns (its `LeanTransport`,
or the transport you gave it) and returns the transport's ``httpx2.Response``.

What the SDK and the client did, and how it is done here:

- Headers: taken from the SDK client once, when the provider starts (its auth header,
  ``User-Agent``, ``X-Stainless-*``, ``OpenAI-Organization``/``-Project`` and your
  ``default_headers``), plus httpx2's ``Accept-Encoding`` and ``Connection``. As the
  SDK does per request, ``X-Stainless-Async`` names the running async library and
  ``X-Stainless-Read-Timeout`` follows a per-call ``timeout``. Per-call ``extra_headers``
  from ``provider_options`` replace headers of the same name (in any case; ``None``
  leaves one out), and ``extra_query`` is written as the SDK writes it.
- Timeouts: the provider's ``timeout=`` (the SDK's default, 600 s and 5 s to connect,
  when omitted) by phase, or a per-call ``timeout`` from ``provider_options``.
- Redirects: followed within the configured origin (at most 20, with httpx's method
  rules: 303, and 301/302 after a POST, become a GET without body); a redirect to another
  origin is refused with the origin guard's error, before anything is sent there.
  Cookies are not kept (no OpenAI-compatible API sets them for API calls).
- Error statuses: the body is read and kept as the SDK keeps it (`StatusFailure`: the
  ``error`` member of a JSON body, else the JSON or the text), so the adapter maps it to
  Aether's errors exactly as it maps the SDK's.

Only providers that own their HTTP client post directly: a client you pass in
(``http_client=``) may carry auth, hooks or proxies of its own, so it is sent through
the SDK. ``AETHER_LEAN_HTTP=0`` (or a proxy in the environment) sends everything through
the SDK and httpx2 as before. How timeouts, queries and answers look as the SDK would
have them is in `aether.extensions.llm._direct_wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aether.errors import ConfigurationError
from aether.extensions.llm._direct_wire import (
    StatusFailure,
    decode_json,
    drain_and_close,
    query_items,
    read_body,
    read_timeout_header,
    status_failure,
    timeout_extension,
)
from aether.extensions.llm._errors import connection_error
from aether.extensions.llm._http11 import Framing, finish_head, head_prefix
from aether.extensions.llm._origin_guard import OriginGuard

__all__ = ["DirectPost", "StatusFailure"]

MAX_REDIRECTS: Final = 20
"""httpx's own limit."""

_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_CLIENT_HEADERS = (("Accept-Encoding", "gzip, deflate"), ("Connection", "keep-alive"))
"""What httpx2's client adds to every request the SDK builds."""
_ASYNC_HEADER = "x-stainless-async"
_READ_TIMEOUT_HEADER = b"x-stainless-read-timeout"


class DirectPost:
    """Posts JSON to one endpoint of one provider, straight through an httpx2 transport.

    Args:
        provider: The provider's name, for errors.
        url: The endpoint (the base URL joined with the API path).
        headers: Every header a request carries, auth included (computed once).
        timeout: The provider's timeout (see `timeout_extension`).
        guard: The provider's origin guard: redirects leave its origin only as errors.

    Raises:
        ConfigurationError: If a header cannot be written (a CR, LF or NUL in its value,
            a name that is not a token).
    """

    __slots__ = (
        "_by_library",
        "_close",
        "_guard",
        "_headers",
        "_lean",
        "_library",
        "_origin",
        "_prefix",
        "_provider",
        "_timeouts",
        "_url",
    )

    def __init__(
        self,
        *,
        provider: str,
        url: str,
        headers: Mapping[str, str],
        timeout: Any,
        guard: OriginGuard,
    ) -> None:
        import httpx2
        import sniffio  # what the openai SDK (which requires it) names the library with

        self._provider = provider
        self._url = httpx2.URL(url)
        merged = {name.lower(): (name, value) for name, value in _CLIENT_HEADERS}
        for name, value in headers.items():
            merged[name.lower()] = (name, value)
        self._headers = [(name.encode(), value.encode()) for name, value in merged.values()]
        self._timeouts = timeout_extension(timeout)
        self._guard = guard
        # On `LeanTransport`, the request is written once, here, up to its length.
        from aether.extensions.llm._lean_transport import LeanTransport

        self._lean = LeanTransport
        endpoint = self._url
        scheme = endpoint.raw_scheme
        port = endpoint.port or (443 if scheme == b"https" else 80)
        self._origin = (scheme, endpoint.raw_host, port)
        self._close = False
        """Whether the headers ask the server to close the connection (set by `_head`)."""
        try:
            self._prefix = self._head(self._headers)
        except Framing as error:  # never shows a value: it may be the key
            raise ConfigurationError(
                f"the {provider} provider cannot send its headers: {error}. Fix that header "
                f"(an API key or header value read from a file often ends in a newline: "
                f"strip it)."
            ) from None
        self._library = sniffio.current_async_library if _ASYNC_HEADER in merged else None
        self._by_library: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {}

    def __repr__(self) -> str:  # the headers hold the key: never shown
        return f"DirectPost(provider={self._provider!r}, url={str(self._url)!r})"

    def _head(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The request head with ``headers``, up to its length (see `head_prefix`)."""
        host = [(b"Host", self._url.netloc)]
        prefix, self._close = head_prefix(b"POST", self._url.raw_path, host + headers)
        return prefix

    def _current(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers and head prefix, ``X-Stainless-Async`` naming the running library.

        The SDK computes that header per request; it is fixed per library here.
        """
        if self._library is None:
            return self._headers, self._prefix
        try:
            library = self._library()
        except Exception:  # no async library running: the SDK's word for it
            library = "false"
        found = self._by_library.get(library)
        if found is None:
            value = f"async:{library}".encode()
            headers = [
                (name, value if name.lower() == _ASYNC_HEADER.encode() else old)
                for name, old in self._headers
            ]
            found = self._by_library[library] = (headers, self._head(headers))
        return found

    def _request(
        self, content: bytes, options: Mapping[str, Any], headers: list[tuple[bytes, bytes]]
    ) -> Any:
        import httpx2

        url = self._url
        timeouts = self._timeouts
        if options:
            extra = options.get("headers") or {}
            replaced = {str(name).lower().encode() for name in extra}
            if "timeout" in options:
                timeouts = timeout_extension(options["timeout"])
                read = read_timeout_header(options["timeout"])
                if _READ_TIMEOUT_HEADER not in replaced and read is not None:
                    extra = {**extra, _READ_TIMEOUT_HEADER.decode(): read}
                replaced.add(_READ_TIMEOUT_HEADER)
            if replaced:
                headers = [pair for pair in headers if pair[0].lower() not in replaced]
                headers += [
                    (str(name).encode(), str(value).encode())
                    for name, value in extra.items()
                    if value is not None
                ]
            params = options.get("params")
            if params:
                url = url.copy_merge_params(tuple(query_items(params)))
        return httpx2.Request(
            "POST", url, headers=headers, content=content, extensions={"timeout": timeouts}
        )

    async def send(self, transport: Any, content: bytes, options: Mapping[str, Any]) -> Any:
        """Post ``content`` and return the response, its body unread (a stream).

        A 2xx or other final status is returned as is; `read_failure` turns an error
        status into a `StatusFailure`.

        Raises:
            ProviderError: If a redirect leads to another origin (the guard's error), or
                more than `MAX_REDIRECTS` follow each other.
            httpx2.TransportError: If the connection fails or times out.
        """
        headers, prefix = self._current()
        custom = options.get("headers") or options.get("params") or "timeout" in options
        follow = MAX_REDIRECTS + 1  # requests left to send: the first and 20 redirects
        if type(transport) is self._lean and not custom:
            # The common case: the head written at start-up, its length added.
            data = finish_head(prefix, b"POST", len(content)) + content
            response = await transport.round_trip(
                self._origin, b"POST", data, self._timeouts, close=self._close
            )
            if not self._redirects(response):
                return response
            await drain_and_close(response)
            request = self._redirected(self._request(content, options, headers), response)
            follow -= 1
        else:
            request = self._request(content, options, headers)
        for _ in range(follow):
            response = await transport.handle_async_request(request)
            response.request = request
            if not self._redirects(response):
                return response
            await drain_and_close(response)
            request = self._redirected(request, response)
        import httpx2

        # httpx's own error for it, as the SDK path reports it.
        redirects = httpx2.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)
        raise connection_error(self._provider, redirects)

    @staticmethod
    def _redirects(response: Any) -> bool:
        return response.status_code in _REDIRECT_STATUSES and "location" in response.headers

    def _redirected(self, request: Any, response: Any) -> Any:
        """The request a redirect asks for, if it stays within the origin."""
        import httpx2

        status = response.status_code
        url = self._guard.follow(status, request.url, response.headers["location"])
        method = request.method
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method = "GET"
        same = method == request.method
        dropped = (b"host",) if same else (b"host", b"content-length", b"content-type")
        headers = [
            (name, value) for name, value in request.headers.raw if name.lower() not in dropped
        ]
        content = request.content if same else None
        return httpx2.Request(
            method, url, headers=headers, content=content, extensions=request.extensions
        )

    @staticmethod
    async def read_failure(response: Any) -> StatusFailure:
        """Read an error status's body (then close it) into a `StatusFailure`."""
        return status_failure(response, await read_body(response))

    @staticmethod
    async def read_json(response: Any) -> object:
        """Read a 2xx body (then close it) as the SDK does (see `decode_json`)."""
        content = await read_body(response)
        return decode_json(content, response.headers.get("content-type", "*"))
