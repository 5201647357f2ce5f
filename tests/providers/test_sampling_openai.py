"""Aether's default temperature on the OpenAI wire: never the cause of a 400.

Every call goes through ``Aether(provider)`` (its default stack, retry included) to a
`MockServer` speaking OpenAI's JSON and SSE, so the counts below are what a real server
would have seen.
"""

from __future__ import annotations

from typing import Any

import pytest

from aether import Aether
from aether.errors import BadRequestError, ConfigurationError
from aether.testing.wire import MockServer, ScriptedError, ScriptedReply
from aether.testing.wires import OPENAI_WIRE

from . import _sampling_support as sampling
from ._sampling_support import BOTH_MODES, Call, openai_refusal

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

REPLY = ScriptedReply(text=("ok",))
GATEWAY = "https://gateway.example/v1"


def client_for(*script: Any, **options: Any) -> tuple[Aether, MockServer]:
    return sampling.client_for(OPENAI_WIRE, *script, **options)


@BOTH_MODES
@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("o3", None),
        ("o4-mini", None),
        ("gpt-5", None),
        ("gpt-5-mini", None),
        ("gpt-5-nano-2025-08-07", None),
        ("gpt-5.2", None),
        ("openai/o3-mini", None),  # a gateway's provider prefix
        ("gpt-5-chat-latest", 0.7),
        ("gpt-4o-mini", 0.7),
    ],
)
async def test_default_temperature_reaches_only_models_that_take_it(
    call: Call, model: str, sent: float | None
) -> None:
    client, server = client_for(REPLY)
    assert await call(client, model=model) == "ok"
    assert server.last.body.get("temperature") == sent
    assert client.request("hi", model=model).temperature == 0.7  # the request keeps it
    await client.aclose()


async def test_a_reasoning_model_behind_a_gateway_gets_max_completion_tokens() -> None:
    client, server = client_for(REPLY, REPLY, base_url=GATEWAY, api_key=None)
    await client.ask("hi", model="o3", max_tokens=50)
    await client.ask("hi", model="llama3.2", max_tokens=50)
    reasoning, other = (request.body for request in server.requests)
    assert (reasoning.get("max_completion_tokens"), "max_tokens" in reasoning) == (50, False)
    assert (other.get("max_tokens"), "max_completion_tokens" in other) == (50, False)
    await client.aclose()


async def test_a_temperature_the_call_sets_is_sent_as_given() -> None:
    client, server = client_for(REPLY, REPLY)
    await client.ask("hi", model="gpt-4o-mini", temperature=0.2)
    await client.ask("hi", model="gpt-5-chat-latest", temperature=0.0)
    assert [request.temperature for request in server.requests] == [0.2, 0.0]
    await client.aclose()


async def test_a_known_reasoning_model_refuses_a_set_top_p_before_sending() -> None:
    client, server = client_for(REPLY)
    with pytest.raises(BadRequestError, match=r"'o4-mini' takes no top_p .*top_p=0\.5"):
        await client.ask("hi", model="o4-mini", top_p=0.5)
    assert server.requests == []
    await client.aclose()


async def test_the_refusal_is_remembered_per_model_and_per_client() -> None:
    client, server = client_for(openai_refusal(), REPLY, REPLY, REPLY)
    await client.ask("hi", model="acme-reasoner")
    await client.ask("hi", model="acme-chat")
    other, other_server = client_for(REPLY)
    await other.ask("hi", model="acme-reasoner")
    assert [request.temperature for request in server.requests] == [0.7, None, 0.7]
    assert other_server.last.temperature == 0.7
    await client.aclose()
    await other.aclose()


async def test_a_refusal_of_something_else_is_not_resent() -> None:
    wrong = ScriptedError(400, "Invalid 'messages[0].role'.", param="messages[0].role")
    client, server = client_for(wrong, REPLY)
    with pytest.raises(BadRequestError, match="messages"):
        await client.ask("hi", model="acme-reasoner")
    assert len(server.requests) == 1
    await client.aclose()


async def test_max_tokens_refused_behind_a_gateway_is_renamed_once_and_remembered() -> None:
    client, server = client_for(openai_refusal("max_tokens"), REPLY, REPLY, base_url=GATEWAY)
    await client.ask("hi", model="acme-reasoner", max_tokens=40, temperature=0.3)
    await client.ask("hi", model="acme-reasoner", max_tokens=40, temperature=0.3)
    fields = [
        (request.body.get("max_tokens"), request.body.get("max_completion_tokens"))
        for request in server.requests
    ]
    assert fields == [(40, None), (None, 40), (None, 40)]
    assert [request.temperature for request in server.requests] == [0.3] * 3
    await client.aclose()


async def test_a_max_tokens_field_you_chose_is_never_renamed() -> None:
    client, server = client_for(openai_refusal("max_tokens"), REPLY, max_tokens_field="max_tokens")
    with pytest.raises(BadRequestError, match="max_tokens"):
        await client.ask("hi", model="o3", max_tokens=40)
    assert len(server.requests) == 1
    await client.aclose()


async def test_your_rules_come_before_the_built_in_ones() -> None:
    client, server = client_for(REPLY, REPLY, sampling={"o3*": "defaults", "acme-*": "refuses"})
    await client.ask("hi", model="o3")
    await client.ask("hi", model="acme-1")
    assert [request.temperature for request in server.requests] == [0.7, None]
    with pytest.raises(BadRequestError, match="'acme-1' takes no temperature"):
        await client.ask("hi", model="acme-1", temperature=0.5)
    await client.aclose()


async def test_an_invalid_rule_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"sampling\['o\*'\] = 'never'"):
        OPENAI_WIRE.build_provider(MockServer(OPENAI_WIRE), sampling={"o*": "never"})


async def test_a_temperature_from_a_middleware_counts_as_set() -> None:
    async def deterministic(request: Any, call_next: Any) -> Any:
        return await call_next(request.model_copy(update={"temperature": 0.0}))

    server = MockServer(OPENAI_WIRE, [REPLY])
    client = Aether(OPENAI_WIRE.build_provider(server), middleware=[deterministic])
    with pytest.raises(BadRequestError, match=r"temperature=0\.0"):
        await client.ask("hi", model="o3")
    await client.aclose()


async def test_a_temperature_from_the_escape_hatch_counts_as_set() -> None:
    client, server = client_for(REPLY)
    options = {"openai": {"temperature": 0.4}}
    await client.ask("hi", model="gpt-5.2", provider_options=options)
    assert server.last.temperature == 0.4
    await client.aclose()


async def test_no_default_temperature_when_the_variable_says_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AETHER_DEFAULT_TEMPERATURE", "none")
    client, server = client_for(REPLY)
    await client.ask("hi", model="acme-model")
    assert ("temperature" in server.last.body, client.request("hi").defaults) == (False, {})
    await client.aclose()


async def test_a_call_that_asks_for_reasoning_gets_no_default_temperature() -> None:
    client, server = client_for(REPLY, REPLY)
    thinking = client.request("hi", model="acme-model").model_copy(update={"reasoning": "high"})
    await client.complete(thinking)
    await client.complete(thinking.model_copy(update={"reasoning": "none"}))
    assert [request.temperature for request in server.requests] == [None, 0.7]
    await client.aclose()
