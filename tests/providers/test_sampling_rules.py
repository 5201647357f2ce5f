"""The sampling rules themselves, the facade's record of defaults, and Gemini 3."""

from __future__ import annotations

from typing import Any

import pytest

from aether import Aether
from aether.errors import BadRequestError, ConfigurationError
from aether.extensions.llm._wire_defaults import refused_parameter
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.llm.sampling import BUILTIN_RULES, check_rules, sampling_support
from aether.llm.contracts import LLMRequest, Message
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import GEMINI_WIRE

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("provider", "model", "support"),
    [
        ("openai", "o1-preview", "refuses"),
        ("openai", "O3-Pro", "refuses"),
        ("openai", "gpt-5", "refuses"),
        ("openai", "gpt-5-codex", "refuses"),
        ("openai", "gpt-5-chat-latest", "defaults"),
        ("openai", "gpt-5.1", "no_defaults"),
        ("openai", "gpt-5.1-chat-latest", "no_defaults"),
        ("openai", "openrouter/openai/o4-mini", "refuses"),
        ("openai", "gpt-4.1", "defaults"),
        ("openai", "omni-moderation-latest", "defaults"),
        ("anthropic", "claude-opus-4-7", "refuses"),
        ("anthropic", "us.anthropic.claude-opus-4-8-v1:0", "refuses"),
        ("anthropic", "claude-opus-4-6", "defaults"),
        ("gemini", "gemini-3-pro-preview", "no_defaults"),
        ("gemini", "models/gemini-3.1-flash", "no_defaults"),
        ("gemini", "gemini-2.5-flash", "defaults"),
        ("fake", "o3", "defaults"),  # rules are per provider
    ],
)
def test_builtin_rules(provider: str, model: str, support: str) -> None:
    assert sampling_support(provider, model) == support


def test_your_rules_are_checked_first_in_their_order() -> None:
    rules = check_rules({"gpt-5-MINI": "defaults", "gpt-5*": "no_defaults"})
    assert sampling_support("openai", "gpt-5-mini", rules) == "defaults"
    assert sampling_support("openai", "gpt-5-nano", rules) == "no_defaults"


def test_every_invalid_rule_is_named() -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_rules({"a*": "never", "b*": "defaults", 3: "refuses"})  # type: ignore[dict-item]
    assert len(raised.value.problems) == 2
    assert "'a*'" in raised.value.problems[0]
    assert "'refuses'" in raised.value.problems[0]
    with pytest.raises(ConfigurationError, match="dict of model-name pattern"):
        check_rules(["o3"])  # type: ignore[arg-type]


def test_the_builtin_table_is_small_and_valid() -> None:
    for rules in BUILTIN_RULES.values():
        assert check_rules(dict(rules))


@pytest.mark.parametrize(
    ("status", "body", "refused"),
    [
        (400, {"message": "x", "param": "temperature"}, "temperature"),
        (400, {"message": "temperature is bad", "param": "messages"}, None),
        (400, {"type": "error", "error": {"message": "`top_p` is deprecated"}}, "top_p"),
        (400, {"message": "Use 'max_completion_tokens' instead."}, None),
        (400, "Unsupported parameter: 'max_tokens'", "max_tokens"),
        (422, {"detail": "nothing"}, None),
        (500, {"message": "temperature", "param": "temperature"}, None),
    ],
)
def test_a_refusal_is_read_from_param_else_from_the_message(
    status: int, body: object, refused: str | None
) -> None:
    assert refused_parameter(status, body, ["temperature", "top_p", "max_tokens"]) == refused


def test_the_facade_records_the_default_it_filled_in() -> None:
    client = Aether(FakeProvider())
    assert client.request("hi").defaults == {"temperature": 0.7}
    assert client.request("hi", temperature=0.7).defaults == {}
    ready = client.request("hi")
    assert client.request(ready).defaults == {"temperature": 0.7}
    assert client.request(ready, temperature=0.2).defaults == {}
    assert LLMRequest(messages=(Message(role="user", content="x"),), temperature=0.7).defaults == {}


def _gemini(*script: Any) -> tuple[Aether, MockServer]:
    server = MockServer(GEMINI_WIRE, script)
    return Aether(GEMINI_WIRE.build_provider(server)), server


async def test_gemini_3_keeps_its_own_temperature_unless_the_call_sets_one() -> None:
    client, server = _gemini(*[ScriptedReply(text=("ok",))] * 3)
    await client.ask("hi", model="gemini-3-pro-preview")
    await client.ask("hi", model="gemini-3-pro-preview", temperature=0.2)
    await client.ask("hi", model="gemini-2.5-flash")
    assert [request.temperature for request in server.requests] == [None, 0.2, 0.7]
    await client.aclose()


async def test_a_gemini_rule_of_yours_can_refuse_sampling() -> None:
    server = MockServer(GEMINI_WIRE, [ScriptedReply(text=("ok",))])
    client = Aether(GEMINI_WIRE.build_provider(server, sampling={"gemini-x*": "refuses"}))
    with pytest.raises(BadRequestError, match="'gemini-x1' takes no top_p"):
        await client.ask("hi", model="gemini-x1", top_p=0.3)
    assert server.requests == []
    await client.aclose()
