"""OpenAI content parts and reasoning: the exact chat-completions JSON, both ways."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
import pytest

from aether.errors import BadRequestError
from aether.extensions.llm.openai import OpenAIProvider
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMRequest,
    Message,
    ReasoningPart,
    StreamChunk,
    TextPart,
    ToolCall,
)
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import OPENAI_WIRE

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(8)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(8)
MP3 = b"ID3\x04" + bytes(8)
PDF = b"%PDF-1.7\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _serve(*script: Any, **options: Any) -> tuple[OpenAIProvider, MockServer]:
    server = MockServer(OPENAI_WIRE, script or (ScriptedReply(text=("ok",)),))
    return OPENAI_WIRE.build_provider(server, **options), server


def _literal(*bodies: dict[str, Any], stream: bool = False, **options: Any) -> OpenAIProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if stream:
            events = b"".join(b"data: " + json.dumps(body).encode() + b"\n\n" for body in bodies)
            events += b"data: [DONE]\n\n"
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=events
            )
        return httpx2.Response(200, json=bodies[0])

    options.setdefault("api_key", "sk-test")
    return OpenAIProvider(transport=httpx2.MockTransport(handler), **options)


async def test_user_parts_become_chat_content_parts() -> None:
    provider, server = _serve()
    content = (
        "Compare these:",
        ImagePart(data=PNG, detail="high"),
        ImagePart(url="https://example.com/cat.jpg"),
        AudioPart(data=WAV),
        AudioPart(data=MP3),
        DocumentPart(data=PDF, name="q3.pdf"),
        DocumentPart(data=PDF),
        DocumentPart(data="héllo".encode(), media_type="text/plain", name="notes.txt"),
    )
    await provider.complete(LLMRequest(messages=(Message(role="user", content=content),)))
    assert server.last.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these:"},
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}", "detail": "high"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {"type": "input_audio", "input_audio": {"data": _b64(WAV), "format": "wav"}},
                {"type": "input_audio", "input_audio": {"data": _b64(MP3), "format": "mp3"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "q3.pdf",
                        "file_data": f"data:application/pdf;base64,{_b64(PDF)}",
                    },
                },
                {
                    "type": "file",
                    "file": {
                        "filename": "document.pdf",
                        "file_data": f"data:application/pdf;base64,{_b64(PDF)}",
                    },
                },
                {"type": "text", "text": "héllo"},
            ],
        }
    ]
    await provider.aclose()


async def test_text_only_parts_are_sent_as_one_string() -> None:
    provider, server = _serve()
    message = Message(role="user", content=("Hello, ", TextPart(text="world")))
    await provider.complete(LLMRequest(messages=(message,)))
    assert server.last.body["messages"] == [{"role": "user", "content": "Hello, world"}]
    await provider.aclose()


@pytest.mark.parametrize(
    ("part", "named"),
    [
        (AudioPart(data=b"OggS" + bytes(8)), "AudioPart (audio/ogg, 12 bytes)"),
        (AudioPart(url="https://example.com/a.mp3"), "AudioPart (audio/mpeg, a URL)"),
        (DocumentPart(url="https://example.com/a.pdf"), "DocumentPart (application/pdf, a URL)"),
        (DocumentPart(data=b"\x00\x00\x00\x18ftypisom" + bytes(4)), "DocumentPart (video/mp4"),
    ],
)
async def test_a_part_the_wire_cannot_take_fails_before_sending(part: Any, named: str) -> None:
    provider, server = _serve()
    request = LLMRequest(messages=(Message(role="user", content=("look", part)),))
    with pytest.raises(BadRequestError, match="openai cannot take") as raised:
        await provider.complete(request)
    assert named in str(raised.value)
    assert "Nothing was sent" in str(raised.value)
    assert server.requests == []
    await provider.aclose()


async def test_media_in_an_assistant_turn_is_refused() -> None:
    provider, server = _serve()
    history = (
        Message(role="user", content="Draw"),
        Message(role="assistant", content=(ImagePart(data=PNG),)),
        Message(role="user", content="Again"),
    )
    named = r"ImagePart \(image/png, 16 bytes\) in assistant messages"
    with pytest.raises(BadRequestError, match=named):
        await provider.complete(LLMRequest(messages=history))
    assert server.requests == []
    await provider.aclose()


async def test_developer_role_on_openai_and_system_on_compatible_servers() -> None:
    messages = (Message(role="developer", content="Be terse."), Message(role="user", content="hi"))
    official, server = _serve()
    await official.complete(LLMRequest(messages=messages))
    assert server.last.body["messages"][0] == {"role": "developer", "content": "Be terse."}
    compatible, server = _serve(base_url="http://localhost:8000/v1")
    await compatible.complete(LLMRequest(messages=messages))
    assert server.last.body["messages"][0] == {"role": "system", "content": "Be terse."}
    chosen, server = _serve(base_url="http://localhost:8000/v1", developer_role="developer")
    await chosen.complete(LLMRequest(messages=messages))
    assert server.last.body["messages"][0]["role"] == "developer"
    for provider in (official, compatible, chosen):
        await provider.aclose()


async def test_a_tool_results_image_follows_in_a_user_message() -> None:
    provider, server = _serve()
    calls = (
        ToolCall(id="call_1", name="chart", arguments={}),
        ToolCall(id="call_2", name="sum", arguments={}),
    )
    history = (
        Message(role="user", content="Chart and sum?"),
        Message(role="assistant", tool_calls=calls),
        Message(
            role="tool",
            content=("Here:", ImagePart(data=PNG)),
            tool_call_id="call_1",
            name="chart",
        ),
        Message(role="tool", content="12", tool_call_id="call_2", name="sum"),
        Message(role="user", content="Thanks"),
    )
    await provider.complete(LLMRequest(messages=history))
    messages = server.last.body["messages"]
    assert [message["role"] for message in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
        "user",
    ]
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Here:\n\n[attachments: 1, in the next user message]",
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "call_2", "content": "12"}
    assert messages[4] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Attachments of the tool result for call call_1 (chart):"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}"}},
        ],
    }
    assert messages[5] == {"role": "user", "content": "Thanks"}
    await provider.aclose()


@pytest.mark.parametrize(
    ("model", "reasoning", "sent"),
    [("gpt-5", "minimal", "minimal"), ("o4-mini", "high", "high"), ("gpt-4o", "none", None)],
)
async def test_reasoning_becomes_reasoning_effort(
    model: str, reasoning: str, sent: str | None
) -> None:
    provider, server = _serve()
    user = Message(role="user", content="hi")
    await provider.complete(LLMRequest(messages=(user,), model=model, reasoning=reasoning))
    assert server.last.body.get("reasoning_effort") == sent
    await provider.aclose()


@pytest.mark.parametrize(
    ("model", "reasoning", "message"),
    [
        ("gpt-5", 2048, "not a budget of 2048 tokens"),
        ("gpt-4o-mini", "low", "gpt-4o-mini does not reason"),
    ],
)
async def test_reasoning_the_model_cannot_take_fails_before_sending(
    model: str, reasoning: Any, message: str
) -> None:
    provider, server = _serve()
    request = LLMRequest(messages=(Message(role="user", content="hi"),), model=model)
    with pytest.raises(BadRequestError, match=message):
        await provider.complete(request.model_copy(update={"reasoning": reasoning}))
    assert server.requests == []
    await provider.aclose()


async def test_compatible_servers_get_any_effort_for_any_model() -> None:
    provider, server = _serve(base_url="http://localhost:8000/v1")
    user = Message(role="user", content="hi")
    await provider.complete(LLMRequest(messages=(user,), model="gpt-4o", reasoning="low"))
    assert server.last.body["reasoning_effort"] == "low"
    await provider.aclose()


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "deepseek-reasoner",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "42.", "reasoning": "17+25=42"},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 900,
        "completion_tokens": 60,
        "total_tokens": 960,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 120, "image_tokens": 500},
        "completion_tokens_details": {"reasoning_tokens": 40, "audio_tokens": 0},
    },
}


async def test_a_compatible_servers_reasoning_field_is_read_as_reasoning() -> None:
    provider = _literal(COMPLETION, base_url="https://openrouter.ai/api/v1")
    response = await provider.complete(LLMRequest(messages=(Message(role="user", content="q"),)))
    assert response.text == "42."
    assert response.reasoning == "17+25=42"
    assert response.parts == (
        ReasoningPart(text="17+25=42", provider="openai"),
        TextPart(text="42."),
    )
    tokens = response.tokens
    assert (tokens.input, tokens.input_audio, tokens.input_image, tokens.reasoning) == (
        900,
        120,
        500,
        40,
    )
    await provider.aclose()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "deepseek-reasoner",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def test_streamed_reasoning_content_comes_as_reasoning_chunks() -> None:
    provider = _literal(
        _chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        _chunk({"reasoning_content": "Adding "}),
        _chunk({"reasoning_content": "17 and 25."}),
        _chunk({"content": "It is "}),
        _chunk({"content": "42."}),
        _chunk({}, finish="stop"),
        stream=True,
        base_url="https://api.deepseek.com",
    )
    chunks = [
        c async for c in provider.stream(LLMRequest(messages=(Message(role="user", content="q"),)))
    ]
    assert [(c.kind, c.text or c.reasoning) for c in chunks[:-1]] == [
        ("reasoning", "Adding "),
        ("reasoning", "17 and 25."),
        ("text", "It is "),
        ("text", "42."),
    ]
    assert chunks[-1].parts == (
        ReasoningPart(text="Adding 17 and 25.", provider="openai"),
        TextPart(text="It is 42."),
    )
    assert chunks[-1].tokens is None  # the server sent no usage
    await provider.aclose()


async def test_a_plain_stream_has_no_parts() -> None:
    provider = _literal(_chunk({"content": "hi"}), _chunk({}, finish="stop"), stream=True)
    chunks: list[StreamChunk] = [
        c async for c in provider.stream(LLMRequest(messages=(Message(role="user", content="q"),)))
    ]
    assert chunks[-1].parts == ()
    await provider.aclose()


async def test_compatible_servers_get_reasoning_back_on_tool_call_turns() -> None:
    thought = ReasoningPart(text="I need the tool.", provider="openai")
    turn = Message(
        role="assistant",
        content=(thought, TextPart(text="")),
        tool_calls=(ToolCall(id="call_1", name="add", arguments={"a": 1}),),
    )
    history = (
        Message(role="user", content="Add"),
        turn,
        Message(role="tool", content="1", tool_call_id="call_1", name="add"),
    )
    compatible, server = _serve(base_url="https://api.deepseek.com")
    await compatible.complete(LLMRequest(messages=history))
    sent = server.last.body["messages"][1]
    assert sent["reasoning_content"] == "I need the tool."
    assert sent["content"] is None
    official, server = _serve()
    await official.complete(LLMRequest(messages=history))
    assert "reasoning_content" not in server.last.body["messages"][1]
    await compatible.aclose()
    await official.aclose()


async def test_a_delta_with_reasoning_and_text_yields_both_in_order() -> None:
    provider = _literal(
        _chunk({"reasoning_content": "Think. "}),
        _chunk({"reasoning_content": "Done.", "content": "Answer"}),
        _chunk({}, finish="stop"),
        stream=True,
        base_url="https://api.deepseek.com",
    )
    request = LLMRequest(messages=(Message(role="user", content="q"),))
    chunks = [c async for c in provider.stream(request)]
    assert [(c.kind, c.text or c.reasoning) for c in chunks[:-1]] == [
        ("reasoning", "Think. "),
        ("reasoning", "Done."),
        ("text", "Answer"),
    ]
    assert chunks[-1].parts == (
        ReasoningPart(text="Think. Done.", provider="openai"),
        TextPart(text="Answer"),
    )
    await provider.aclose()
