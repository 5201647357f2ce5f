"""The generic registry, provider registration and entry-point discovery."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest

from aether import Aether, ConfigurationError, LLMRequest, LLMResponse, register, register_provider
from aether.registry import PROVIDER_KIND, Registry, registry


def test_register_stores_kind_name_and_metadata() -> None:
    @register("vector_store", "pinecone", dimension=1536)
    class PineconeStore:
        pass

    entry = registry.get("vector_store", "pinecone")
    assert entry.load() is PineconeStore
    assert entry.metadata == {"dimension": 1536}
    assert registry.names("vector_store") == ["pinecone"]


def test_duplicate_name_names_both_targets() -> None:
    @register("vector_store", "pinecone")
    class First:
        pass

    with pytest.raises(ConfigurationError) as raised:

        @register("vector_store", "pinecone")
        class Second:
            pass

    message = str(raised.value)
    assert "First" in message
    assert "Second" in message


def test_replace_overrides_on_purpose() -> None:
    local = Registry()
    local.add("kind", "x", 1)
    local.add("kind", "x", 2, replace=True)
    assert local.get("kind", "x").load() == 2


def test_unknown_name_lists_the_known_ones() -> None:
    local = Registry()
    local.add("db", "sqlite", object())
    local.add("db", "postgres", object())
    with pytest.raises(ConfigurationError, match="unknown db 'mysql'; known: postgres, sqlite"):
        local.get("db", "mysql")


def test_lazy_target_is_imported_on_first_load() -> None:
    local = Registry()
    entry = local.add("codec", "json", "json:dumps")
    import json

    assert entry.load() is json.dumps


async def test_register_provider_makes_llm_provider_work(monkeypatch: pytest.MonkeyPatch) -> None:
    @register_provider("ollama", api_key_env="OLLAMA_API_KEY", model_env="OLLAMA_MODEL")
    class OllamaProvider:
        def __init__(self, api_key: str | None = None, default_model: str = "llama3") -> None:
            self.default_model = default_model

        async def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(text=f"ollama:{request.model}", model=request.model or "")

    monkeypatch.setenv("LLM_PROVIDER", "ollama")
    client = Aether()
    assert isinstance(client.provider, OllamaProvider)
    assert await client.ask("hi") == "ollama:llama3"


def test_a_required_api_key_parameter_makes_the_key_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @register_provider("hosted", api_key_env="HOSTED_API_KEY")
    class HostedProvider:
        def __init__(self, api_key: str, default_model: str = "h-1") -> None:
            self.api_key = api_key

        async def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(text="hosted", model="h-1")

    monkeypatch.setenv("LLM_PROVIDER", "hosted")
    with pytest.raises(ConfigurationError, match="set HOSTED_API_KEY"):
        Aether()
    monkeypatch.setenv("HOSTED_API_KEY", "k-1")
    assert Aether().provider.api_key == "k-1"


class EntryPointProvider:
    aether_provider: ClassVar[dict[str, str]] = {"model_env": "EP_MODEL"}

    def __init__(self, default_model: str = "ep-1") -> None:
        self.default_model = default_model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return LLMResponse(text="from entry point", model=request.model or "")


async def test_entry_point_provider_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(
        name="plugged",
        value=f"{__name__}:EntryPointProvider",
        group="aether.providers",
    )
    monkeypatch.setattr(
        "aether.registry.entry_points",
        lambda group: [point] if group == "aether.providers" else [],
    )
    monkeypatch.setattr(registry, "_entry_points_loaded", set())
    monkeypatch.setenv("LLM_PROVIDER", "plugged")
    monkeypatch.setenv("EP_MODEL", "ep-large")
    client = Aether()
    assert "plugged" in registry.names(PROVIDER_KIND)
    assert client.default_model == "ep-large"
    assert await client.ask("hi") == "from entry point"
