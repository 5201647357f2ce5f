"""Aether's default temperature on the Anthropic wire, extended thinking included.

As on the OpenAI wire, every call goes through ``Aether(provider)``'s default stack to a
`MockServer` speaking the Messages API's JSON and SSE, and the counts are what the
server saw.
"""

from __future__ import annotations

from typing import Any

import pytest

from aether import Aether
from aether.errors import BadRequestError
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import ANTHROPIC_WIRE

from . import _sampling_support as sampling
from ._sampling_support import BOTH_MODES, Call

pytestmark = pytest.mark.anyio

REPLY = ScriptedReply(text=("ok",))
THINKING = {"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 8000}}}
ADAPTIVE = {"anthropic": {"thinking": {"type": "adaptive"}}}


def client_for(*script: Any, **options: Any) -> tuple[Aether, MockServer]:
    return sampling.client_for(ANTHROPIC_WIRE, *script, **options)


@BOTH_MODES
async def test_a_model_that_takes_sampling_gets_the_default_temperature(call: Call) -> None:
    client, server = client_for(REPLY)
    await call(client, model="claude-sonnet-4-6")
    assert (server.last.temperature, "top_p" in server.last.body) == (0.7, False)
    await client.aclose()


@BOTH_MODES
@pytest.mark.parametrize("options", [THINKING, ADAPTIVE], ids=["budget", "adaptive"])
async def test_extended_thinking_gets_no_default_temperature(
    call: Call, options: dict[str, Any]
) -> None:
    client, server = client_for(REPLY)
    await call(client, model="claude-sonnet-4-6", provider_options=options)
    assert "temperature" not in server.last.body
    assert server.last.body["thinking"] == options["anthropic"]["thinking"]
    await client.aclose()


@BOTH_MODES
@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-4-8-20260601"])
async def test_a_model_without_sampling_parameters_gets_no_default(call: Call, model: str) -> None:
    client, server = client_for(REPLY)
    await call(client, model=model)
    assert "temperature" not in server.last.body
    await client.aclose()


async def test_a_thinking_budget_above_the_default_max_tokens_gets_room_to_answer() -> None:
    client, server = client_for(REPLY, REPLY)
    await client.ask("hi", provider_options=THINKING)
    await client.ask("hi", provider_options=THINKING, max_tokens=20000)
    assert [request.max_tokens for request in server.requests] == [8000 + 4096, 20000]
    await client.aclose()


async def test_a_set_top_p_leaves_the_default_temperature_out() -> None:
    client, server = client_for(REPLY)
    await client.ask("hi", model="claude-sonnet-4-6", top_p=0.9)
    assert ("temperature" in server.last.body, server.last.top_p) == (False, 0.9)
    await client.aclose()


async def test_a_default_above_claudes_range_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_DEFAULT_TEMPERATURE", "1.5")
    client, server = client_for(REPLY)
    await client.ask("hi")
    assert "temperature" not in server.last.body
    await client.aclose()


@BOTH_MODES
async def test_a_set_temperature_with_thinking_is_refused_before_sending(call: Call) -> None:
    client, server = client_for(REPLY)
    with pytest.raises(BadRequestError) as raised:
        await call(client, temperature=0.2, provider_options=THINKING)
    message = str(raised.value)
    assert "'claude-haiku-4-5' takes no temperature but 1 while extended thinking" in message
    assert "temperature=0.2" in message
    assert "Leave temperature unset" in message
    assert server.requests == []
    await client.aclose()


async def test_top_p_with_thinking_must_be_at_least_0_95() -> None:
    client, server = client_for(REPLY)
    with pytest.raises(BadRequestError, match=r"top_p only from 0\.95 to 1 .*top_p=0\.5"):
        await client.ask("hi", top_p=0.5, provider_options=ADAPTIVE)
    await client.ask("hi", top_p=0.97, temperature=1.0, provider_options=ADAPTIVE)
    assert [(request.temperature, request.top_p) for request in server.requests] == [(1.0, 0.97)]
    await client.aclose()
