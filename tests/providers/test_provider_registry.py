"""Switching providers with LLM_PROVIDER, building them from the environment, lazy SDKs."""

from __future__ import annotations

import subprocess
import sys

import httpx2
import pytest

from aether import Aether, ProviderConfig
from aether.errors import ConfigurationError
from aether.extensions.llm.anthropic import AnthropicProvider
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.llm.gemini import GeminiProvider
from aether.extensions.llm.openai import OpenAIProvider
from aether.extensions.llm.openai_responses import OpenAIResponsesProvider
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import BUILTIN_WIRES

pytestmark = pytest.mark.anyio

KEYS = {
    "openai": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openai-responses": "OPENAI_API_KEY",
}
CLASSES = {
    "openai": (OpenAIProvider, "gpt-4o-mini"),
    "openai-responses": (OpenAIResponsesProvider, "gpt-4o-mini"),
    "gemini": (GeminiProvider, "gemini-2.5-flash"),
    "anthropic": (AnthropicProvider, "claude-haiku-4-5"),
    "fake": (FakeProvider, "fake-model"),
}


@pytest.mark.parametrize("name", ["openai", "gemini", "anthropic", "openai-responses", "fake"])
def test_llm_provider_picks_the_provider(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", name)
    if name in KEYS:
        monkeypatch.setenv(KEYS[name], "key-from-env")
    client = Aether()
    cls, model = CLASSES[name]
    assert (type(client.provider), client.default_model, client.provider_name) == (
        cls,
        model,
        name,
    )


@pytest.mark.parametrize(
    ("name", "variable", "model"),
    [
        ("openai", "OPENAI_MODEL", "gpt-4.1-mini"),
        ("gemini", "GEMINI_MODEL", "gemini-2.5-pro"),
        ("anthropic", "ANTHROPIC_MODEL", "claude-sonnet-4-5"),
        ("openai-responses", "OPENAI_MODEL", "gpt-5-mini"),
    ],
)
def test_model_variable_sets_the_default_model(
    name: str, variable: str, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", name)
    monkeypatch.setenv(KEYS[name], "key-from-env")
    monkeypatch.setenv(variable, model)
    assert Aether().default_model == model


@pytest.mark.parametrize("name", ["openai", "gemini", "anthropic", "openai-responses"])
def test_missing_key_is_a_configuration_error_naming_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", name)
    with pytest.raises(ConfigurationError, match=KEYS[name]):
        Aether()


def test_openai_base_url_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("OPENAI_MODEL", "llama3.2")
    client = Aether()
    assert (client.provider.base_url, client.default_model) == (
        "http://localhost:11434/v1/",
        "llama3.2",
    )


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_same_code_answers_on_every_provider(
    wire: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = wire.name  # type: ignore[attr-defined]
    monkeypatch.setenv("LLM_PROVIDER", name)
    monkeypatch.setenv(KEYS[name], "key-from-env")
    server = MockServer(wire, [ScriptedReply(text=("Hello from ", name))])  # type: ignore[arg-type]
    config = ProviderConfig(options={"transport": httpx2.MockTransport(server)})
    async with Aether(config=config) as client:
        assert await client.ask("hi") == f"Hello from {name}"
    assert server.last.headers.get("authorization", "").endswith("key-from-env") or (
        server.last.headers.get("x-goog-api-key") == "key-from-env"
    )


def test_import_aether_imports_no_vendor_sdk() -> None:
    code = (
        "import sys, aether, aether.testing, aether.extensions.llm.builtin\n"
        "from aether import Aether\n"
        "sdks = ('openai', 'anthropic', 'google.genai', 'httpx2')\n"
        "loaded = [name for name in sdks if name in sys.modules]\n"
        "print(','.join(loaded))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("name", ["openai", "gemini", "anthropic", "openai-responses"])
async def test_aclose_closes_the_client_the_provider_made(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYS[name], "key-from-env")
    provider = CLASSES[name][0]()
    await provider.aclose()
    client = provider._http_client if name == "gemini" else provider.sdk._client
    assert client.is_closed is True
