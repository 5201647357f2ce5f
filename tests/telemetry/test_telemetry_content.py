"""Opt-in content capture: the conventions' message shape, and no API key ever recorded."""

from __future__ import annotations

import json

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from aether import Aether
from aether.errors import AuthenticationError
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMResponse, Message, Tool, ToolCall
from aether.testing.wire import MockServer, ScriptedError
from aether.testing.wires import OPENAI_WIRE
from tests.telemetry._otel import Otel

CALL = ToolCall(id="c1", name="lookup", arguments={"city": "Paris"})
LOOKUP = Tool(name="lookup", description="Look a city up.")


async def _lookup(arguments: dict[str, object]) -> str:
    return "rainy"


def _loop_client(otel: Otel, **options: object) -> Aether:
    fake = FakeProvider(
        responses=[
            LLMResponse(text="", model="m", tool_calls=(CALL,)),
            LLMResponse(text="It rains.", model="m"),
        ]
    )
    return Aether(fake, telemetry=otel.middleware(**options))


async def test_content_is_not_captured_by_default(otel: Otel) -> None:
    client = _loop_client(otel)
    await client.ask("Weather in Paris?", tools=[LOOKUP.model_copy(update={"handler": _lookup})])
    captured = {gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES,
                gen_ai.GEN_AI_TOOL_DEFINITIONS, gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS,
                gen_ai.GEN_AI_TOOL_CALL_RESULT, gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS}  # fmt: skip
    for span in otel.spans():
        assert captured.isdisjoint(span.attributes or {}), span.name
        assert "Paris" not in json.dumps(dict(span.attributes or {}))


async def test_captured_messages_follow_the_conventions_shape(otel: Otel) -> None:
    client = _loop_client(otel, capture_content=True)
    prompt = [Message(role="system", content="Be brief."),
              Message(role="user", content="Weather in Paris?")]  # fmt: skip
    await client.ask(prompt, tools=[LOOKUP.model_copy(update={"handler": _lookup})])
    _, second = otel.named("chat fake-model")
    found = dict(second.attributes or {})
    assert json.loads(str(found[gen_ai.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [
            {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                    "response": "rainy"}]},
    ]  # fmt: skip
    assert json.loads(str(found[gen_ai.GEN_AI_OUTPUT_MESSAGES])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It rains."}],
         "finish_reason": "stop"}
    ]  # fmt: skip
    assert json.loads(str(found[gen_ai.GEN_AI_TOOL_DEFINITIONS]))[0]["name"] == "lookup"
    tool = dict(otel.one("execute_tool lookup").attributes or {})
    assert json.loads(str(tool[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS])) == {"city": "Paris"}
    assert tool[gen_ai.GEN_AI_TOOL_CALL_RESULT] == "rainy"


async def test_no_api_key_reaches_an_attribute_or_a_status(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "svc-0123456789-secret")
    other_key = "sk-ant-api03-" + "x" * 40
    server = MockServer(
        OPENAI_WIRE, [ScriptedError(401, message=f"bad key {OPENAI_WIRE.api_key}")]
    )
    provider = OPENAI_WIRE.build_provider(server)
    telemetry = otel.middleware(provider="openai", base_url=provider.base_url,
                                capture_content=True)  # fmt: skip
    async with Aether(provider, telemetry=telemetry) as client:
        prompt = f"keys: {OPENAI_WIRE.api_key} svc-0123456789-secret {other_key}"
        with pytest.raises(AuthenticationError):
            await client.ask(prompt)
    [span] = otel.spans()
    recorded = json.dumps(dict(span.attributes or {})) + str(span.status.description)
    recorded += json.dumps([dict(event.attributes or {}) for event in span.events])
    assert "keys: " in recorded  # the prompt was captured...
    for secret in (OPENAI_WIRE.api_key, "svc-0123456789-secret", other_key):
        assert secret not in recorded  # ...without its keys
    assert "[REDACTED]" in recorded


async def test_content_parts_are_captured_by_reference_never_bytes(otel: Otel) -> None:
    from aether.llm.content import ImagePart, ReasoningPart, TextPart

    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    answer = LLMResponse(
        text="A cat.",
        model="m",
        parts=(
            ReasoningPart(text="Looks feline.", signature="sig-opaque"),
            TextPart(text="A cat."),
        ),
    )
    telemetry = otel.middleware(capture_content=True)
    client = Aether(FakeProvider(responses=[answer]), telemetry=telemetry)
    prompt = Message(
        role="user",
        content=(
            TextPart(text="What is this?"),
            ImagePart(data=png),
            ImagePart(url="https://files.example/cat.png?X-Amz-Signature=abc123secret"),
        ),
    )
    await client.ask([prompt])
    found = dict(otel.one("chat fake-model").attributes or {})
    [sent] = json.loads(str(found[gen_ai.GEN_AI_INPUT_MESSAGES]))
    assert sent["parts"] == [
        {"type": "text", "content": "What is this?"},
        {"type": "image", "modality": "image", "mime_type": "image/png", "size": len(png)},
        {"type": "uri", "modality": "image", "mime_type": "image/png",
         "uri": "https://files.example/cat.png"},
    ]  # fmt: skip
    [answered] = json.loads(str(found[gen_ai.GEN_AI_OUTPUT_MESSAGES]))
    assert answered["parts"] == [
        {"type": "reasoning", "content": "Looks feline."},
        {"type": "text", "content": "A cat."},
    ]
    assert "sig-opaque" not in json.dumps(found)
