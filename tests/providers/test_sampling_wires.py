"""What holds on the JSON wires (OpenAI chat and Responses, Anthropic): set values and
refused defaults.

Every call goes through ``Aether(provider)``'s default stack, retry included, to a
`MockServer` speaking the vendor's JSON and SSE; the request counts are what the
server saw.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import pytest

from aether.errors import BadRequestError
from aether.events import REQUEST_COMPLETE, REQUEST_ERROR, REQUEST_START
from aether.testing.wire import ScriptedError, ScriptedReply, WireFormat
from aether.testing.wires import ANTHROPIC_WIRE, OPENAI_RESPONSES_WIRE, OPENAI_WIRE

from ._sampling_support import BOTH_MODES, Call, client_for, openai_refusal

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

REPLY = ScriptedReply(text=("ok",))


class Wire(NamedTuple):
    """A wire, a model it knows to refuse sampling, and its two refusals."""

    format: WireFormat
    refusing_model: str
    refused_default: ScriptedError
    refused_set_value: ScriptedError


WIRES = pytest.mark.parametrize(
    "wire",
    [
        pytest.param(
            Wire(OPENAI_WIRE, "o3", openai_refusal(), openai_refusal(value=0.2)), id="openai"
        ),
        pytest.param(
            Wire(OPENAI_RESPONSES_WIRE, "o3", openai_refusal(), openai_refusal(value=0.2)),
            id="openai-responses",
        ),
        pytest.param(
            Wire(
                ANTHROPIC_WIRE,
                "claude-opus-4-7",
                ScriptedError(400, "`temperature` is deprecated for this model."),
                ScriptedError(400, "temperature: range: 0..1"),
            ),
            id="anthropic",
        ),
    ],
)


@WIRES
@BOTH_MODES
async def test_a_known_refusing_model_gets_no_default_and_refuses_a_set_value_before_sending(
    call: Call, wire: Wire
) -> None:
    client, server = client_for(wire.format, REPLY)
    refusing_model = wire.refusing_model
    assert await call(client, model=refusing_model) == "ok"
    assert "temperature" not in server.last.body
    with pytest.raises(BadRequestError) as raised:
        await call(client, model=refusing_model, temperature=0.2)
    message = str(raised.value)
    assert f"{refusing_model!r} takes no temperature" in message
    assert "temperature=0.2" in message
    assert "Leave temperature unset" in message
    assert "nothing was sent" in message
    assert (len(server.requests), raised.value.retryable) == (1, False)
    await client.aclose()


@WIRES
@BOTH_MODES
async def test_a_set_temperature_the_server_refuses_is_one_clear_error_never_retried(
    call: Call, wire: Wire
) -> None:
    client, server = client_for(wire.format, wire.refused_set_value, REPLY)
    with pytest.raises(BadRequestError) as raised:
        await call(client, model="acme-next", temperature=0.2)
    message = str(raised.value)
    assert "'acme-next' refused temperature=0.2, which this call set" in message
    assert wire.refused_set_value.message.rstrip(".") in message  # the server's words
    assert "Leave temperature unset for this model" in message
    assert (raised.value.status_code, raised.value.retryable) == (400, False)
    assert len(server.requests) == 1
    await client.aclose()


@WIRES
@BOTH_MODES
async def test_an_unknown_model_refusing_the_default_is_resent_once_then_never_sent_it(
    call: Call, wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    client, server = client_for(wire.format, wire.refused_default, REPLY, REPLY)
    events: list[str] = []
    for name in (REQUEST_START, REQUEST_COMPLETE, REQUEST_ERROR):
        client.on(name, lambda event, name=name: events.append(name))
    with caplog.at_level(logging.WARNING, logger="aether.providers"):
        assert await call(client, model="acme-next") == "ok"
        assert await call(client, model="acme-next") == "ok"
    assert [request.temperature for request in server.requests] == [0.7, None, None]
    logged = [r.getMessage() for r in caplog.records if r.name == "aether.providers"]
    assert len(logged) == 1
    assert "'acme-next' refused the default temperature=0.7" in logged[0]
    # The resend is below the stack: two calls, two billed answers, no error events.
    assert client.usage.total_requests == 2
    assert events == [REQUEST_START, REQUEST_COMPLETE] * 2
    await client.aclose()
