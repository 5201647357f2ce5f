"""Aether's default temperature on the Anthropic wire, extended thinking included.

As on the OpenAI wire, every call goes through ``Aether(provider)``'s default stack to a
`MockServer` speaking the Messages API's JSON and SSE, and the counts are what the
server saw.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aether import Aether
from aether.errors import BadRequestError
from aether.testing.wire import MockServer, ScriptedError, ScriptedReply
from aether.testing.wires import ANTHROPIC_WIRE

pytestmark = pytest.mark.anyio

REPLY = ScriptedReply(text=("ok",))
THINKING = {"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 8000}}}
ADAPTIVE = {"anthropic": {"thinking": {"type": "adaptive"}}}


def client_for(*script: Any, **options: Any) -> tuple[Aether, MockServer]:
    server = MockServer(ANTHROPIC_WIRE, script)
    return Aether(ANTHROPIC_WIRE.build_provider(server, **options)), server


async def ask(client: Aether, **options: Any) -> str:
    return await client.ask("hi", **options)


async def stream(client: Aether, **options: Any) -> str:
    return "".join([delta async for delta in client.stream_text("hi", **options)])


Call = Callable[..., Awaitable[str]]
BOTH_MODES = pytest.mark.parametrize("call", [ask, stream], ids=["complete", "stream"])


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


async def test_a_set_temperature_on_a_model_without_sampling_is_refused_before_sending() -> None:
    client, server = client_for(REPLY)
    with pytest.raises(BadRequestError, match=r"'claude-opus-4-7' takes no temperature"):
        await client.ask("hi", model="claude-opus-4-7", temperature=0.3)
    assert server.requests == []
    await client.aclose()


@BOTH_MODES
async def test_a_set_temperature_the_server_refuses_is_one_clear_error_never_retried(
    call: Call,
) -> None:
    client, server = client_for(ScriptedError(400, "temperature: range: 0..1"), REPLY)
    with pytest.raises(BadRequestError) as raised:
        await call(client, model="claude-next", temperature=0.9)
    message = str(raised.value)
    assert "'claude-next' refused temperature=0.9, which this call set" in message
    assert "range: 0..1" in message
    assert "Leave temperature unset" in message
    assert (len(server.requests), raised.value.retryable) == (1, False)
    await client.aclose()


@BOTH_MODES
async def test_an_unknown_model_refusing_the_default_is_resent_once_then_never_sent_it(
    call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    deprecated = ScriptedError(400, "`temperature` is deprecated for this model.")
    client, server = client_for(deprecated, REPLY, REPLY)
    with caplog.at_level(logging.WARNING, logger="aether.providers"):
        assert await call(client, model="claude-next") == "ok"
        assert await call(client, model="claude-next") == "ok"
    assert [request.temperature for request in server.requests] == [0.7, None, None]
    logged = [r.getMessage() for r in caplog.records if r.name == "aether.providers"]
    assert len(logged) == 1
    assert "'claude-next' refused the default temperature=0.7" in logged[0]
    assert client.usage.total_requests == 2
    await client.aclose()
