"""Credentials stay with the configured origin: no redirect takes them elsewhere.

The SDKs' HTTP clients follow redirects, and on a redirect to another origin httpx (and
httpx2) strip only ``Authorization``: Anthropic's ``x-api-key``, Gemini's
``x-goog-api-key`` and every header of ``default_headers`` (a gateway's token, say) would
reach whatever server the ``Location`` names. Each adapter installs an `OriginGuard` on
every client it sends through (each one it builds, one per event loop, or yours): a
response hook that refuses a redirect leading one of the provider's own requests to
another origin, before anything is sent there. A redirect within the origin is followed.

The guard knows the provider's requests by the key they carry, so on a client that others
share it leaves every other request alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aether.errors import ProviderError
from aether.extensions.llm._errors import redact

__all__ = ["OriginGuard", "install_origin_guard", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, lower-cased, the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: compare it as missing
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _shown(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS.get(scheme)) else f":{port}")


class OriginGuard:
    """A response hook that refuses to let a redirect carry a provider's key elsewhere.

    Args:
        provider: The provider's name, for the error.
        base_url: The configured server; its origin is the only one the key may reach.
        secret: The API key: a request whose headers carry it is the provider's own.
    """

    __slots__ = ("_secret", "base_url", "origin", "provider")

    def __init__(self, *, provider: str, base_url: str, secret: str) -> None:
        self.provider = provider
        self.base_url = base_url
        self.origin = origin_of(base_url)
        self._secret = secret

    def _carries_the_key(self, request: Any) -> bool:
        secret = self._secret
        return bool(secret) and any(secret in value for value in request.headers.values())

    async def __call__(self, response: Any) -> None:
        if not response.has_redirect_location:
            return
        request = response.request
        if not self._carries_the_key(request):
            return
        self.follow(response.status_code, request.url, response.headers.get("location", ""))

    def follow(self, status: int, url: Any, location: str) -> Any:
        """Where a redirect from ``url`` (an httpx2 URL) leads, if within the origin.

        Raises:
            ProviderError: If it leads to another origin, or ``location`` cannot be read.
        """
        try:
            joined = url.join(location)
            target = origin_of(str(joined))
        except Exception:  # a Location httpx cannot read: never followed blindly
            target = ("", location[:100], None)
        if target != self.origin:
            raise self.refusal(status, target)
        return joined

    def refusal(self, status: int, target: tuple[str, str, int | None]) -> ProviderError:
        """The error refusing a redirect (HTTP ``status``) to the origin ``target``."""
        message = (
            f"the {self.provider} server at {self.base_url} answered HTTP "
            f"{status}, a redirect to {_shown(target)}, another origin. Aether "
            f"does not follow it, so your API key and headers are never sent there. If the "
            f"service has moved, set base_url to its new address."
        )
        return ProviderError(
            redact(message, (self._secret,)),
            provider=self.provider,
            status_code=status,
        )

    def __repr__(self) -> str:
        return f"OriginGuard(provider={self.provider!r}, base_url={self.base_url!r})"


def install_origin_guard(client: Any, guard: OriginGuard) -> None:
    """Add ``guard`` as the first response hook of an httpx2 (or httpx) client.

    First, so no other hook reads a redirect's body before the guard refuses it.
    """
    hooks = client.event_hooks
    response_hooks = [hook for hook in hooks.get("response", []) if hook is not guard]
    client.event_hooks = {**hooks, "response": [guard, *response_hooks]}
