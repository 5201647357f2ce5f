"""The key holds who answers: the endpoint and the account, never the secret itself.

Two clients of one provider name may talk to different servers (a gateway, an Azure
deployment, a self-hosted server with the same model names) or to different accounts;
sharing a cache backend, neither may get the other's answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from _cache_helpers import request

from aether import Aether, ConfigurationError, LLMRequest, LLMResponse
from aether.middleware.cache import (
    CacheBackend,
    CacheMiddleware,
    InMemoryCacheBackend,
    provider_identity,
)
from aether.testing.wire import MockServer, ScriptedReply, WireFormat
from aether.testing.wires import BUILTIN_WIRES

WIRES = {wire.name: wire for wire in BUILTIN_WIRES}


def _client(
    wire: WireFormat, backend: CacheBackend, answer: str, **options: Any
) -> tuple[Aether, MockServer]:
    server = MockServer(wire, [ScriptedReply(text=(answer,)), ScriptedReply(text=(answer,))])
    provider = wire.build_provider(server, **options)
    return Aether(provider, cache=backend), server


def case(name: str, field: str, first: Any, second: Any) -> Any:
    """Two clients of ``name`` that differ in ``field`` only."""
    return pytest.param(name, {field: first}, {field: second}, id=f"{name}-{field}")


SAME_NAME_ANOTHER_ANSWERER = [
    case("openai", "base_url", "https://a.example/v1", "https://b.example/v1"),
    case("openai", "api_key", "sk-account-a-0001", "sk-account-b-0002"),
    case("openai", "organization", "org-a", "org-b"),
    case("openai", "default_headers", {"api-key": "azure-a"}, {"api-key": "azure-b"}),
    case("anthropic", "base_url", "https://a.example", "https://b.example"),
    case("anthropic", "api_key", "sk-ant-a-0001", "sk-ant-b-0002"),
    case("gemini", "base_url", "https://a.example", "https://b.example"),
    case("gemini", "api_key", "gm-key-a-0001", "gm-key-b-0002"),
    case("gemini", "api_version", "v1", "v1beta"),
]


@pytest.mark.parametrize(("name", "first", "second"), SAME_NAME_ANOTHER_ANSWERER)
async def test_clients_that_another_server_or_account_answers_share_no_answers(
    name: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    backend = InMemoryCacheBackend()  # the key is made before any backend sees it
    client_a, server_a = _client(WIRES[name], backend, "from a", **first)
    client_b, server_b = _client(WIRES[name], backend, "from b", **second)
    async with client_a, client_b:
        assert await client_a.ask("hi") == "from a"
        assert await client_b.ask("hi") == "from b"
        assert await client_a.ask("hi") == "from a"  # and each still hits its own
    assert (len(server_a.requests), len(server_b.requests)) == (1, 1)


@pytest.mark.parametrize("name", sorted(WIRES))
async def test_clients_of_one_server_and_account_share_answers(
    cache_backend: CacheBackend, name: str
) -> None:
    client_a, server_a = _client(WIRES[name], cache_backend, "from a")
    client_b, server_b = _client(WIRES[name], cache_backend, "from b")
    async with client_a, client_b:
        assert await client_a.ask("hi") == "from a"
        assert await client_b.ask("hi") == "from a"
    assert (len(server_a.requests), len(server_b.requests)) == (1, 0)


@pytest.mark.parametrize("name", sorted(WIRES))
def test_the_identity_never_holds_the_key(name: str) -> None:
    wire = WIRES[name]
    provider = wire.build_provider(MockServer(wire), base_url="https://gateway.example/v1")
    identity = provider.cache_identity
    assert wire.api_key not in identity
    assert "gateway.example" in identity
    assert identity == provider_identity(provider)
    assert "cache_identity" not in repr(provider)


class _Custom:
    """A provider of the user's own: identity from ``cache_identity``, else ``base_url``."""

    def __init__(self, name: str, **attributes: Any) -> None:
        self.name = name
        self.requests: list[LLMRequest] = []
        for attribute, value in attributes.items():
            setattr(self, attribute, value)

    async def complete(self, sent: LLMRequest) -> LLMResponse:
        self.requests.append(sent)
        return LLMResponse(text=f"from {self.name}", model="m")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"cache_identity": "tenant-a"}, {"cache_identity": "tenant-b"}),
        ({"base_url": "http://a.local"}, {"base_url": "http://b.local"}),
    ],
    ids=["cache_identity", "base_url"],
)
async def test_a_provider_of_your_own_says_who_answers(
    cache_backend: CacheBackend, first: dict[str, str], second: dict[str, str]
) -> None:
    provider_a, provider_b = _Custom("mine", **first), _Custom("mine", **second)
    async with (
        Aether(provider_a, cache=cache_backend) as a,
        Aether(provider_b, cache=cache_backend) as b,
    ):
        await a.ask("hi")
        await b.ask("hi")
    assert (len(provider_a.requests), len(provider_b.requests)) == (1, 1)


def test_a_middleware_cannot_serve_two_answerers() -> None:
    wire = WIRES["openai"]
    shared = CacheMiddleware()
    Aether(wire.build_provider(MockServer(wire), base_url="https://a.example/v1"), cache=shared)
    with pytest.raises(ConfigurationError, match="its own CacheMiddleware"):
        Aether(wire.build_provider(MockServer(wire), base_url="https://b.example/v1"), cache=shared)


def test_a_middleware_given_a_provider_keys_by_it() -> None:
    wire = WIRES["openai"]
    at_a = wire.build_provider(MockServer(wire), base_url="https://a.example/v1")
    at_b = wire.build_provider(MockServer(wire), base_url="https://b.example/v1")
    sent = request()
    assert CacheMiddleware(provider=at_a).key(sent) != CacheMiddleware(provider=at_b).key(sent)
    assert CacheMiddleware(provider=at_a).provider == "openai"
