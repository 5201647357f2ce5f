"""The JSON adapters write their request bodies themselves (pydantic-core's encoder) and
hand the SDK the bytes: the body and its headers stay what the vendor expects."""

from __future__ import annotations

import datetime
import json

import pytest

from aether.errors import BadRequestError
from aether.llm.contracts import LLMRequest, Message
from aether.testing.wire import MockServer, ScriptedReply, WireFormat
from aether.testing.wires import ANTHROPIC_WIRE, OPENAI_WIRE

pytestmark = pytest.mark.anyio

WIRES = [pytest.param(OPENAI_WIRE, id="openai"), pytest.param(ANTHROPIC_WIRE, id="anthropic")]
USER = Message(role="user", content='héllo \u2028 "quoted" \\ \x01')


@pytest.mark.parametrize("wire", WIRES)
async def test_the_body_is_json_with_its_content_type(wire: WireFormat) -> None:
    server = MockServer(wire, [ScriptedReply(text=("ok",))])
    provider = wire.build_provider(server)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    options = {wire.name: {"metadata": {"when": when, "tags": ("a", "b")}}}
    await provider.complete(LLMRequest(messages=(USER,), provider_options=options))
    request = server.http_request
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["messages"][0]["content"] == USER.content
    assert body["metadata"] == {"when": "2026-01-02T03:04:05", "tags": ["a", "b"]}
    await provider.aclose()


@pytest.mark.parametrize("wire", WIRES)
async def test_a_value_json_cannot_carry_fails_before_sending(wire: WireFormat) -> None:
    server = MockServer(wire, [ScriptedReply(text=("ok",))])
    provider = wire.build_provider(server)
    options = {wire.name: {"metadata": {"handle": object()}}}
    with pytest.raises(BadRequestError, match="takes JSON values only"):
        await provider.complete(LLMRequest(messages=(USER,), provider_options=options))
    assert server.requests == []
    await provider.aclose()


def test_base64_text_is_spliced_into_the_json_exactly() -> None:
    import base64

    from aether.extensions.llm._json_body import Base64Text, json_body

    data = bytes(range(256)) * 40
    body = {
        "text": "a \x00marker:0\x00 lookalike, é, \u2028, \"quotes\"",
        "items": [
            {"url": Base64Text(data, "data:image/png;base64,")},
            {"data": Base64Text(b"second")},
        ],
    }
    decoded = json.loads(json_body(body))
    assert decoded == {
        "text": body["text"],
        "items": [
            {"url": "data:image/png;base64," + base64.b64encode(data).decode()},
            {"data": base64.b64encode(b"second").decode()},
        ],
    }
