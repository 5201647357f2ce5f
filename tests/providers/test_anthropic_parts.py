"""Anthropic content parts and thinking: the exact Messages JSON, both ways."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
import pytest

from aether.errors import BadRequestError
from aether.extensions.llm.anthropic import AnthropicProvider
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
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import ANTHROPIC_WIRE

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + bytes(8)
PDF = b"%PDF-1.7\n"
USER = Message(role="user", content="hi")
LOOKUP = Tool(name="lookup", parameters={"type": "object", "properties": {}})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _serve(**options: Any) -> tuple[AnthropicProvider, MockServer]:
    server = MockServer(ANTHROPIC_WIRE, [ScriptedReply(text=("ok",))])
    return ANTHROPIC_WIRE.build_provider(server, **options), server


def _literal(body: Any, *, stream: bool = False) -> AnthropicProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if stream:
            events = b"".join(
                f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in body
            )
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=events
            )
        return httpx2.Response(200, json=body)

    return AnthropicProvider(api_key="sk-ant-x", transport=httpx2.MockTransport(handler))


async def test_user_parts_become_image_and_document_blocks() -> None:
    provider, server = _serve()
    content = (
        "Read these:",
        ImagePart(data=PNG),
        ImagePart(url="https://example.com/cat.jpg"),
        DocumentPart(data=PDF, name="q3.pdf"),
        DocumentPart(url="https://example.com/spec.pdf"),
        DocumentPart(data=b"plain notes", media_type="text/markdown", name="notes.md"),
    )
    instructions = (
        Message(role="system", content="Be terse."),
        Message(role="developer", content=(TextPart(text="Cite pages."),)),
    )
    await provider.complete(
        LLMRequest(messages=(*instructions, Message(role="user", content=content)))
    )
    assert server.last.body["system"] == "Be terse.\n\nCite pages."
    assert server.last.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read these:"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG)},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": _b64(PDF),
                    },
                    "title": "q3.pdf",
                },
                {
                    "type": "document",
                    "source": {"type": "url", "url": "https://example.com/spec.pdf"},
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"},
                    "title": "notes.md",
                },
            ],
        }
    ]
    await provider.aclose()


async def test_tool_results_carry_images_and_documents() -> None:
    provider, server = _serve()
    history = (
        Message(role="user", content="Chart?"),
        Message(role="assistant", tool_calls=(ToolCall(id="toolu_1", name="lookup"),)),
        Message(
            role="tool",
            content=("Chart:", ImagePart(data=PNG), DocumentPart(data=PDF, name="data.pdf")),
            tool_call_id="toolu_1",
        ),
    )
    await provider.complete(LLMRequest(messages=history))
    assert server.last.body["messages"][2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [
                    {"type": "text", "text": "Chart:"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG)},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": _b64(PDF),
                        },
                        "title": "data.pdf",
                    },
                ],
            }
        ],
    }
    await provider.aclose()


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (Message(role="user", content=(AudioPart(data=b"ID3" + bytes(4)),)), "AudioPart"),
        (
            Message(role="user", content=(DocumentPart(data=b"\x1a\x45\xdf\xa3" + bytes(4)),)),
            "DocumentPart (video/webm",
        ),
        (
            Message(role="user", content=(ImagePart(data=b"x", media_type="image/heic"),)),
            "ImagePart (image/heic",
        ),
        (Message(role="assistant", content=(ImagePart(data=PNG),)), "in assistant messages"),
        (Message(role="system", content=(ImagePart(data=PNG),)), "in system messages"),
        (
            Message(role="tool", content=(AudioPart(data=b"ID3"),), tool_call_id="t"),
            "in tool messages",
        ),
    ],
)
async def test_a_part_the_wire_cannot_take_fails_before_sending(
    message: Message, named: str
) -> None:
    provider, server = _serve()
    with pytest.raises(BadRequestError, match="anthropic cannot take") as raised:
        await provider.complete(LLMRequest(messages=(message, USER)))
    assert named in str(raised.value)
    assert server.requests == []
    await provider.aclose()


REPLY_BLOCKS: list[dict[str, Any]] = [
    {"type": "thinking", "thinking": "Search first.", "signature": "c2lnLTE="},
    {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
    {
        "type": "server_tool_use",
        "id": "srvtoolu_1",
        "name": "web_search",
        "input": {"query": "aether"},
    },
    {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [{"type": "web_search_result", "url": "https://e.com", "title": "E"}],
    },
    {"type": "thinking", "thinking": "Now the lookup.", "signature": "c2lnLTI="},
    {"type": "text", "text": "Let me check."},
    {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"word": "aether"}},
]

EXPECTED_PARTS = (
    ReasoningPart(text="Search first.", signature="c2lnLTE=", provider="anthropic"),
    ReasoningPart(signature="ZW5jcnlwdGVk", redacted=True, provider="anthropic"),
    ProviderPart(provider="anthropic", kind="server_tool_use", data=REPLY_BLOCKS[2]),
    ProviderPart(provider="anthropic", kind="web_search_tool_result", data=REPLY_BLOCKS[3]),
    ReasoningPart(text="Now the lookup.", signature="c2lnLTI=", provider="anthropic"),
    TextPart(text="Let me check."),
)

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": REPLY_BLOCKS,
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 50,
        "output_tokens": 90,
        "output_tokens_details": {"thinking_tokens": 70},
        "server_tool_use": {"web_search_requests": 1},
    },
}


async def test_thinking_and_server_tool_blocks_are_read_in_order() -> None:
    provider = _literal(MESSAGE)
    response = await provider.complete(LLMRequest(messages=(USER,)))
    assert response.parts == EXPECTED_PARTS
    assert response.reasoning == "Search first.Now the lookup."
    assert response.text == "Let me check."
    assert response.tool_calls == (
        ToolCall(id="toolu_9", name="lookup", arguments={"word": "aether"}),
    )
    assert (response.tokens.output, response.tokens.reasoning) == (90, 70)
    await provider.aclose()


async def test_the_turn_goes_back_block_for_block() -> None:
    literal = _literal(MESSAGE)
    reply = await literal.complete(LLMRequest(messages=(USER,)))
    await literal.aclose()  # left open, its loop binding is finalised by the GC (trio warns)
    provider, server = _serve()
    result = Message(role="tool", content="the upper air", tool_call_id="toolu_9")
    await provider.complete(LLMRequest(messages=(USER, reply.message, result), tools=(LOOKUP,)))
    assert server.last.body["messages"][1] == {"role": "assistant", "content": REPLY_BLOCKS}
    await provider.aclose()


async def test_other_providers_and_unsigned_reasoning_are_left_out() -> None:
    provider, server = _serve()
    turn = Message(
        role="assistant",
        content=(
            ReasoningPart(text="gemini thoughts", signature="eA==", provider="gemini"),
            ReasoningPart(text="no signature", provider="anthropic"),
            ProviderPart(provider="openai", kind="web_search_call", data={"id": "ws"}),
            TextPart(text="Hi."),
        ),
    )
    await provider.complete(LLMRequest(messages=(USER, turn, USER)))
    assert server.last.body["messages"][1] == {"role": "assistant", "content": "Hi."}
    await provider.aclose()


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def _block(index: int, block: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _event("content_block_start", index=index, content_block=block),
        *(_event("content_block_delta", index=index, delta=delta) for delta in deltas),
        _event("content_block_stop", index=index),
    ]


STREAM = [
    _event("message_start", message={**MESSAGE, "content": [], "stop_reason": None}),
    *_block(
        0,
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "thinking_delta", "thinking": "Search "},
        {"type": "thinking_delta", "thinking": "first."},
        {"type": "signature_delta", "signature": "c2ln"},
        {"type": "signature_delta", "signature": "LTE="},
    ),
    *_block(1, REPLY_BLOCKS[1]),
    *_block(
        2,
        {**REPLY_BLOCKS[2], "input": {}},
        {"type": "input_json_delta", "partial_json": '{"query": '},
        {"type": "input_json_delta", "partial_json": '"aether"}'},
    ),
    *_block(3, REPLY_BLOCKS[3]),
    *_block(
        4,
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "thinking_delta", "thinking": "Now the lookup."},
        {"type": "signature_delta", "signature": "c2lnLTI="},
    ),
    *_block(5, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Let me check."}),
    *_block(
        6,
        {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {}},
        {"type": "input_json_delta", "partial_json": '{"word": "aether"}'},
    ),
    _event("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 90}),
    _event("message_stop"),
]


async def test_a_streamed_turn_keeps_its_blocks_in_order() -> None:
    provider = _literal(STREAM, stream=True)
    chunks = [c async for c in provider.stream(LLMRequest(messages=(USER,)))]
    assert [(c.kind, c.text or c.reasoning) for c in chunks[:-1]] == [
        ("reasoning", "Search "),
        ("reasoning", "first."),
        ("reasoning", "Now the lookup."),
        ("text", "Let me check."),
    ]
    final = chunks[-1]
    assert final.parts == EXPECTED_PARTS
    # The server tool's input is not a client tool call.
    assert final.tool_calls == (
        ToolCall(id="toolu_9", name="lookup", arguments={"word": "aether"}),
    )
    await provider.aclose()


THINKING_CASES = [
    ("claude-haiku-4-5", "low", None, {"type": "enabled", "budget_tokens": 2048}, None, 6144),
    ("claude-sonnet-4-5", 5000, 8000, {"type": "enabled", "budget_tokens": 5000}, None, 8000),
    (
        "claude-3-7-sonnet-latest",
        "high",
        None,
        {"type": "enabled", "budget_tokens": 24576},
        None,
        28672,
    ),
    ("claude-sonnet-4-6", 3000, None, {"type": "enabled", "budget_tokens": 3000}, None, 7096),
    (
        "claude-opus-4-6",
        "minimal",
        None,
        {"type": "adaptive", "display": "summarized"},
        "low",
        5120,
    ),
    (
        "claude-opus-4-7",
        "high",
        64000,
        {"type": "adaptive", "display": "summarized"},
        "high",
        64000,
    ),
    (
        "claude-future-9",
        "medium",
        None,
        {"type": "adaptive", "display": "summarized"},
        "medium",
        12288,
    ),
    ("claude-opus-4-7", "none", None, {"type": "disabled"}, None, 4096),
    ("claude-haiku-4-5", "none", None, None, None, 4096),
    ("claude-3-5-haiku-latest", "none", None, None, None, 4096),
]


@pytest.mark.parametrize(
    ("model", "reasoning", "max_tokens", "thinking", "effort", "sent_max"), THINKING_CASES
)
async def test_reasoning_becomes_thinking_by_model(
    model: str,
    reasoning: Any,
    max_tokens: int | None,
    thinking: dict[str, Any] | None,
    effort: str | None,
    sent_max: int,
) -> None:
    provider, server = _serve()
    request = LLMRequest(messages=(USER,), model=model, max_tokens=max_tokens, reasoning=reasoning)
    await provider.complete(request)
    body = server.last.body
    assert body.get("thinking") == thinking
    assert body.get("output_config") == ({"effort": effort} if effort else None)
    assert body["max_tokens"] == sent_max
    await provider.aclose()


@pytest.mark.parametrize(
    ("model", "fields", "message"),
    [
        ("claude-3-5-haiku-latest", {"reasoning": "low"}, "does not think"),
        ("claude-opus-4-7", {"reasoning": 2048}, "not a budget of 2048 tokens"),
        ("claude-haiku-4-5", {"reasoning": 500}, "smallest thinking budget is 1024"),
        ("claude-haiku-4-5", {"reasoning": "low", "max_tokens": 2000}, r"max_tokens \(2000\)"),
        (
            "claude-sonnet-4-5",
            {"reasoning": "low", "tools": (LOOKUP,), "tool_choice": "required"},
            "forced tool choice",
        ),
        ("claude-mythos-preview", {"reasoning": "none"}, "always thinks"),
    ],
)
async def test_thinking_the_model_cannot_take_fails_before_sending(
    model: str, fields: dict[str, Any], message: str
) -> None:
    provider, server = _serve()
    with pytest.raises(BadRequestError, match=message):
        await provider.complete(LLMRequest(messages=(USER,), model=model, **fields))
    assert server.requests == []
    await provider.aclose()


async def test_the_escape_hatch_overrides_the_thinking_aether_sets() -> None:
    provider, server = _serve()
    request = LLMRequest(
        messages=(USER,),
        model="claude-opus-4-7",
        reasoning="low",
        provider_options={"anthropic": {"output_config": {"effort": "max"}}},
    )
    await provider.complete(request)
    assert server.last.body["output_config"] == {"effort": "max"}
    assert server.last.body["thinking"]["type"] == "adaptive"
    await provider.aclose()
