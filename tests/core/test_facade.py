"""The Aether facade: construction, requests, closing, configuration errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from aether import Aether, ConfigurationError, EventBus, LLMRequest, Message, ProviderConfig
from aether.config import DEFAULT_TEMPERATURE
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.llm.registry import register_provider
from aether.llm.contracts import LLMResponse


class KeyedProvider:
    """A provider that needs a key, registered per test."""

    def __init__(
        self, api_key: str | None = None, default_model: str = "keyed-1", base_url: str = ""
    ) -> None:
        self.api_key = api_key
        self.default_model = default_model
        self.base_url = base_url
        self.closed = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return LLMResponse(text=f"{request.model}", model=request.model or "")

    async def aclose(self) -> None:
        self.closed += 1


@pytest.fixture
def keyed() -> type[KeyedProvider]:
    register_provider(
        "keyed", api_key_env="KEYED_API_KEY", model_env="KEYED_MODEL", requires_api_key=True
    )(KeyedProvider)
    return KeyedProvider


def test_llm_provider_selects_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    assert isinstance(Aether().provider, FakeProvider)


def test_missing_api_key_names_the_variable_and_the_fake_provider(
    monkeypatch: pytest.MonkeyPatch, keyed: type[KeyedProvider]
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "keyed")
    monkeypatch.delenv("KEYED_API_KEY", raising=False)
    with pytest.raises(ConfigurationError) as raised:
        Aether()
    assert "KEYED_API_KEY" in str(raised.value)
    assert "LLM_PROVIDER=fake" in str(raised.value)


def test_api_key_and_model_come_from_the_registered_variables(
    monkeypatch: pytest.MonkeyPatch, keyed: type[KeyedProvider]
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "keyed")
    monkeypatch.setenv("KEYED_API_KEY", "sk-test-123")
    monkeypatch.setenv("KEYED_MODEL", "keyed-large")
    client = Aether()
    assert client.provider.api_key == "sk-test-123"
    assert client.default_model == "keyed-large"


def test_config_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, keyed: type[KeyedProvider]
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    monkeypatch.setenv("KEYED_MODEL", "from-env")
    client = Aether(
        config=ProviderConfig(name="keyed", api_key=SecretStr("sk-cfg"), model="from-config")
    )
    assert isinstance(client.provider, KeyedProvider)
    assert client.provider.api_key == "sk-cfg"
    assert client.default_model == "from-config"


def test_base_url_lifts_the_api_key_requirement(
    monkeypatch: pytest.MonkeyPatch, keyed: type[KeyedProvider]
) -> None:
    client = Aether(config=ProviderConfig(name="keyed", base_url="http://127.0.0.1:11434/v1"))
    assert client.provider.base_url == "http://127.0.0.1:11434/v1"
    assert client.provider.api_key is None


def test_unknown_provider_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "nope")
    with pytest.raises(
        ConfigurationError, match=r"unknown provider 'nope' \(from LLM_PROVIDER\) Known: .*fake"
    ):
        Aether()


def test_provider_and_config_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="either a provider or config"):
        Aether(FakeProvider(), config=ProviderConfig(name="fake"))


def test_stack_with_middleware_or_opt_outs_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Aether(FakeProvider(), stack=[], middleware=[object()], config=ProviderConfig())
    assert len(raised.value.problems) == 2


def test_config_repr_hides_the_api_key() -> None:
    config = ProviderConfig(name="openai", api_key=SecretStr("sk-secret-value"))
    assert "sk-secret-value" not in repr(config)
    assert "sk-secret-value" not in str(config)


async def test_per_call_options_reach_the_request() -> None:
    fake = FakeProvider("ok")
    client = Aether(fake)
    await client.ask(
        "hi",
        model="m2",
        temperature=0.2,
        max_tokens=30,
        top_p=0.9,
        stop=["END"],
        tool_choice="none",
        provider_options={"fake": {"seed": 3}},
    )
    request = fake.last_request
    assert (request.model, request.temperature, request.max_tokens) == ("m2", 0.2, 30)
    assert (request.top_p, request.stop, request.tool_choice) == (0.9, ("END",), "none")
    assert request.provider_options == {"fake": {"seed": 3}}


async def test_default_model_and_temperature_fill_the_request() -> None:
    fake = FakeProvider("ok", default_model="fake-small")
    await Aether(fake).ask("hi")
    assert fake.last_request.model == "fake-small"
    assert fake.last_request.temperature == DEFAULT_TEMPERATURE


async def test_temperature_env_applies_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeProvider("ok")
    client = Aether(fake)
    monkeypatch.setenv("AETHER_DEFAULT_TEMPERATURE", "0.3")
    await client.ask("hi")
    monkeypatch.setenv("AETHER_DEFAULT_TEMPERATURE", "none")
    await client.ask("hi")
    await client.ask("hi", temperature=1.5)
    assert [request.temperature for request in fake.requests] == [0.3, None, 1.5]


async def test_complete_returns_the_whole_response() -> None:
    response = await Aether(FakeProvider("two words")).complete("hi")
    assert response.text == "two words"
    assert response.output_tokens == 2
    assert response.model == "fake-model"


async def test_prebuilt_request_keeps_its_settings() -> None:
    fake = FakeProvider("ok")
    request = LLMRequest(messages=(Message(role="user", content="x"),), model="exact")
    await Aether(fake).complete(request)
    assert fake.last_request.model_dump() == request.model_dump()


async def test_options_apply_over_a_prebuilt_request() -> None:
    fake = FakeProvider("ok")
    request = LLMRequest(messages=(Message(role="user", content="x"),), model="exact")
    await Aether(fake).complete(request, model="other", stop="END", context={"k": 1})
    sent = fake.last_request
    assert (sent.model, sent.stop, sent.context["k"]) == ("other", ("END",), 1)
    assert request.model == "exact"


async def test_prebuilt_request_context_is_not_shared_between_calls() -> None:
    fake = FakeProvider("ok")
    request = LLMRequest(messages=(Message(role="user", content="x"),), context={"user": "a"})
    client = Aether(fake)
    await client.complete(request)
    await client.complete(request)
    first, second = fake.requests
    assert first.context is not second.context
    assert request.context == {"user": "a"}


async def test_a_single_stop_string_is_one_sequence() -> None:
    fake = FakeProvider("ok")
    await Aether(fake).ask("hi", stop="END")
    assert fake.last_request.stop == ("END",)


async def test_empty_conversation_is_refused() -> None:
    with pytest.raises(ValueError, match="conversation is empty"):
        await Aether(FakeProvider("ok")).ask([])


async def test_async_with_closes_the_provider_once(keyed: type[KeyedProvider]) -> None:
    provider = KeyedProvider(api_key="k")
    async with Aether(provider) as client:
        await client.ask("hi")
    await client.aclose()
    assert provider.closed == 1


async def test_shared_event_bus_sees_both_clients() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.on("request.complete", lambda event: seen.append(event.response.text))
    await Aether(FakeProvider("a"), events=bus).ask("hi")
    await Aether(FakeProvider("b"), events=bus).ask("hi")
    assert seen == ["a", "b"]


def test_client_repr_names_provider_model_and_pipeline() -> None:
    client = Aether(FakeProvider("ok"))
    assert repr(client) == (
        "Aether(provider='fake', model='fake-model', pipeline=Pipeline("
        "StructuredOutput → ToolLoop → CostTracking → CircuitBreaker → Retry → Events → fake))"
    )
