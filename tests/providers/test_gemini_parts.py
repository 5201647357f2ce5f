"""Gemini content parts, thoughts and signatures: the exact generateContent JSON, both ways."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
import pytest

from aether.errors import BadRequestError
from aether.extensions.llm.gemini import GeminiProvider
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMRequest,
    Message,
    ProviderPart,
    ReasoningPart,
    TextPart,
    Tool,
    ToolCall,
)

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + bytes(8)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(8)
PDF = b"%PDF-1.7\n"
USER = Message(role="user", content="hi")
LOOKUP = Tool(name="lookup", parameters={"type": "object", "properties": {}})
SIGNATURE = base64.b64encode(b"text-signature").decode()
CALL_SIGNATURE = base64.b64encode(b"call-signature").decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _provider(*bodies: Any) -> tuple[GeminiProvider, list[dict[str, Any]]]:
    """A provider answering with literal bodies (a list of SSE events to a stream), and
    the bodies it sent."""
    sent: list[dict[str, Any]] = []
    answers = list(bodies)

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        answer = answers.pop(0) if answers else REPLY
        if "streamGenerateContent" in request.url.path:
            events = b"".join(
                b"data: " + json.dumps(item).encode() + b"\r\n\r\n" for item in answer
            )
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=events
            )
        return httpx2.Response(200, json=answer)

    return GeminiProvider(api_key="gem-key", transport=httpx2.MockTransport(handler)), sent


def _response(*parts: dict[str, Any], finish: str | None = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-3-pro-preview"}


REPLY = _response({"text": "ok"})
THOUGHTS = {"include_thoughts": True}


async def test_user_parts_become_inline_and_file_data() -> None:
    provider, sent = _provider(REPLY)
    content = (
        "Look:",
        ImagePart(data=PNG),
        ImagePart(url="https://example.com/cat.jpg"),
        AudioPart(data=WAV),
        DocumentPart(data=PDF, name="q3.pdf"),
        DocumentPart(data=b"notes", media_type="text/plain"),
        DocumentPart(url="https://www.youtube.com/watch?v=abc", media_type="video/mp4"),
    )
    messages = (
        Message(role="developer", content="Describe briefly."),
        Message(role="user", content=content),
    )
    await provider.complete(LLMRequest(messages=messages))
    body = sent[-1]
    assert body["systemInstruction"]["parts"] == [{"text": "Describe briefly."}]
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Look:"},
                {"inlineData": {"data": _b64(PNG), "mime_type": "image/png"}},
                {
                    "fileData": {
                        "file_uri": "https://example.com/cat.jpg",
                        "mime_type": "image/jpeg",
                    }
                },
                {"inlineData": {"data": _b64(WAV), "mime_type": "audio/wav"}},
                {"inlineData": {"data": _b64(PDF), "mime_type": "application/pdf"}},
                {"inlineData": {"data": _b64(b"notes"), "mime_type": "text/plain"}},
                {
                    "fileData": {
                        "file_uri": "https://www.youtube.com/watch?v=abc",
                        "mime_type": "video/mp4",
                    }
                },
            ],
        }
    ]
    await provider.aclose()


THINKING_TURN = _response(
    {"text": "**Planning**\nI should look it up.", "thought": True},
    {"text": "Checking.", "thoughtSignature": SIGNATURE},
    {
        "functionCall": {"id": "fc_1", "name": "lookup", "args": {}},
        "thoughtSignature": CALL_SIGNATURE,
    },
    finish="STOP",
)


async def test_thoughts_and_signatures_are_read_and_sent_back_exactly() -> None:
    provider, sent = _provider(THINKING_TURN, REPLY)
    first = await provider.complete(LLMRequest(messages=(USER,), tools=(LOOKUP,)))
    assert first.parts == (
        ReasoningPart(text="**Planning**\nI should look it up.", provider="gemini"),
        TextPart(text="Checking.", signature=SIGNATURE),
    )
    assert first.text == "Checking."
    assert first.tool_calls == (
        ToolCall(id="fc_1", name="lookup", arguments={}, signature=CALL_SIGNATURE),
    )
    result = Message(role="tool", content="the upper air", tool_call_id="fc_1")
    await provider.complete(LLMRequest(messages=(USER, first.message, result), tools=(LOOKUP,)))
    assert sent[-1]["contents"][1] == {"role": "model", **THINKING_TURN["candidates"][0]["content"]}
    await provider.aclose()


async def test_a_streamed_signature_on_an_empty_part_is_kept() -> None:
    events = [
        _response({"text": "Let me ", "thought": True}, finish=None),
        _response({"text": "think.", "thought": True}, finish=None),
        _response({"text": "The answer"}, finish=None),
        _response({"text": " is 42."}, finish=None),
        _response({"text": "", "thoughtSignature": SIGNATURE}),
    ]
    provider, sent = _provider(events)
    chunks = [c async for c in provider.stream(LLMRequest(messages=(USER,)))]
    assert [(c.kind, c.text or c.reasoning) for c in chunks[:-1]] == [
        ("reasoning", "Let me "),
        ("reasoning", "think."),
        ("text", "The answer"),
        ("text", " is 42."),
    ]
    final = chunks[-1]
    assert final.parts == (
        ReasoningPart(text="Let me think.", provider="gemini"),
        TextPart(text="The answer is 42."),
        TextPart(text="", signature=SIGNATURE),
    )
    turn = Message(role="assistant", content=final.parts)
    await provider.complete(LLMRequest(messages=(USER, turn, USER)))
    assert sent[-1]["contents"][1]["parts"] == [
        {"text": "Let me think.", "thought": True},
        {"text": "The answer is 42."},
        {"text": "", "thoughtSignature": SIGNATURE},
    ]
    await provider.aclose()


async def test_a_signature_that_is_not_base64_fails_before_sending() -> None:
    provider, sent = _provider(REPLY)
    turn = Message(role="assistant", content=(TextPart(text="x", signature="not base64!"),))
    with pytest.raises(BadRequestError, match="not base64"):
        await provider.complete(LLMRequest(messages=(USER, turn, USER)))
    assert sent == []
    await provider.aclose()


async def test_images_and_code_execution_in_the_answer_become_parts() -> None:
    executable = {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
    provider, sent = _provider(
        _response(
            {"text": "Here is your image:"},
            {"inlineData": {"mimeType": "image/png", "data": _b64(PNG)}},
            executable,
        ),
        REPLY,
    )
    response = await provider.complete(LLMRequest(messages=(USER,)))
    code = ProviderPart(
        provider="gemini",
        kind="executable_code",
        data={"executable_code": {"language": "PYTHON", "code": "print(1)"}},
    )
    assert response.parts == (
        TextPart(text="Here is your image:"),
        ImagePart(data=PNG, media_type="image/png"),
        code,
    )
    await provider.complete(LLMRequest(messages=(USER, response.message, USER)))
    assert sent[-1]["contents"][1]["parts"][1:] == [
        {"inlineData": {"data": _b64(PNG), "mime_type": "image/png"}},
        {"executableCode": {"code": "print(1)", "language": "PYTHON"}},
    ]
    await provider.aclose()


def _tool_history(model: str) -> LLMRequest:
    history = (
        USER,
        Message(role="assistant", tool_calls=(ToolCall(id="fc_1", name="lookup"),)),
        Message(role="tool", content=("Chart:", ImagePart(data=PNG)), tool_call_id="fc_1"),
    )
    return LLMRequest(messages=history, model=model, tools=(LOOKUP,))


async def test_gemini_3_gets_a_tool_results_image_inside_the_function_response() -> None:
    provider, sent = _provider(REPLY)
    await provider.complete(_tool_history("gemini-3-pro-preview"))
    assert sent[-1]["contents"][2]["parts"] == [
        {
            "functionResponse": {
                "id": "fc_1",
                "name": "lookup",
                "parts": [{"inline_data": {"data": _b64(PNG), "mime_type": "image/png"}}],
                "response": {"result": "Chart:"},
            }
        }
    ]
    await provider.aclose()


async def test_earlier_models_get_a_tool_results_image_right_after_it() -> None:
    provider, sent = _provider(REPLY)
    await provider.complete(_tool_history("gemini-2.5-flash"))
    assert sent[-1]["contents"][2]["parts"] == [
        {"functionResponse": {"id": "fc_1", "name": "lookup", "response": {"result": "Chart:"}}},
        {"inlineData": {"data": _b64(PNG), "mime_type": "image/png"}},
    ]
    await provider.aclose()


@pytest.mark.parametrize(
    ("model", "reasoning", "config"),
    [
        ("gemini-2.5-flash", "low", {"thinking_budget": 2048, "include_thoughts": True}),
        ("gemini-2.5-flash", "none", {"thinking_budget": 0}),
        ("gemini-2.5-flash-lite", 600, {"thinking_budget": 600, "include_thoughts": True}),
        ("gemini-2.5-pro", "high", {"thinking_budget": 24576, "include_thoughts": True}),
        ("gemini-3-pro-preview", "high", {"thinking_level": "HIGH", "include_thoughts": True}),
        ("models/gemini-3-flash", "minimal", {"thinking_level": "MINIMAL", **THOUGHTS}),
        ("gemini-3-flash", 4096, {"thinking_budget": 4096, "include_thoughts": True}),
        ("gemini-2.0-flash", "none", None),
    ],
)
async def test_reasoning_becomes_thinking_config_by_model(
    model: str, reasoning: Any, config: dict[str, Any] | None
) -> None:
    provider, sent = _provider(REPLY)
    await provider.complete(LLMRequest(messages=(USER,), model=model, reasoning=reasoning))
    assert sent[-1]["generationConfig"].get("thinkingConfig") == config
    await provider.aclose()


@pytest.mark.parametrize(
    ("model", "reasoning", "message"),
    [
        ("gemini-2.0-flash", "low", "does not think"),
        ("gemini-2.5-pro", "none", "cannot stop thinking"),
        ("gemini-3-pro-preview", 0, "cannot stop thinking"),
        ("gemini-2.5-flash-lite", 100, "512 to 24576"),
        ("gemini-2.5-pro", 64000, "128 to 32768"),
    ],
)
async def test_reasoning_the_model_cannot_take_fails_before_sending(
    model: str, reasoning: Any, message: str
) -> None:
    provider, sent = _provider(REPLY)
    with pytest.raises(BadRequestError, match=message):
        await provider.complete(LLMRequest(messages=(USER,), model=model, reasoning=reasoning))
    assert sent == []
    await provider.aclose()


async def test_modality_counts_are_read_from_the_usage_details() -> None:
    body = {
        **REPLY,
        "usageMetadata": {
            "promptTokenCount": 1400,
            "candidatesTokenCount": 90,
            "thoughtsTokenCount": 30,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 100},
                {"modality": "IMAGE", "tokenCount": 1032},
                {"modality": "AUDIO", "tokenCount": 268},
            ],
            "candidatesTokensDetails": [
                {"modality": "TEXT", "tokenCount": 40},
                {"modality": "AUDIO", "tokenCount": 50},
            ],
        },
    }
    provider, _ = _provider(body)
    tokens = (await provider.complete(LLMRequest(messages=(USER,)))).tokens
    assert (tokens.input, tokens.output, tokens.reasoning) == (1400, 120, 30)
    assert (tokens.input_image, tokens.input_audio, tokens.output_audio) == (1032, 268, 50)
    await provider.aclose()


async def test_empty_unsigned_text_parts_are_not_sent() -> None:
    provider, sent = _provider(REPLY)
    turn = Message(
        role="assistant",
        content=(TextPart(text=""), TextPart(text="Hi."), TextPart(text="", signature=SIGNATURE)),
    )
    await provider.complete(LLMRequest(messages=(USER, turn, USER)))
    assert sent[-1]["contents"][1]["parts"] == [
        {"text": "Hi."},
        {"text": "", "thoughtSignature": SIGNATURE},
    ]
    await provider.aclose()
