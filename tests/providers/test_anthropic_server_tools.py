"""Anthropic server-side tools and iteration usage, in streams and calls.

Web search, web fetch, code execution, the MCP connector and the advisor tool run on
Anthropic's side: their ``server_tool_use`` / ``mcp_tool_use`` blocks (with their own
``input_json_delta`` events in a stream) and their ``*_tool_result`` blocks are content
the provider produced, never tool calls for the client to run. The bodies follow the
shapes of Anthropic's server-tool documentation.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

import httpx2
import pytest

from aether import Aether
from aether.extensions.llm.anthropic import AnthropicProvider
from aether.llm.contracts import LLMRequest, Message, StreamChunk, Tool, ToolCall

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-4-6"
ADD = Tool(
    name="add",
    description="Add two numbers.",
    parameters={"type": "object", "properties": {"a": {"type": "integer"}}},
)


def _text(index: int, text: str) -> list[dict[str, Any]]:
    block = {"type": "text", "text": ""}
    delta = {"type": "text_delta", "text": text}
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        {"type": "content_block_delta", "index": index, "delta": delta},
        {"type": "content_block_stop", "index": index},
    ]


def _tool_block(index: int, block: dict[str, Any], *fragments: str) -> list[dict[str, Any]]:
    """A tool-use block (client or server) whose input streams as JSON fragments."""
    deltas = [
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": fragment},
        }
        for fragment in fragments
    ]
    start = {"type": "content_block_start", "index": index, "content_block": block}
    return [start, *deltas, {"type": "content_block_stop", "index": index}]


def _result_block(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    start = {"type": "content_block_start", "index": index, "content_block": block}
    return [start, {"type": "content_block_stop", "index": index}]


SERVER_BLOCKS: list[dict[str, Any]] = [
    *_tool_block(
        1,
        {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}},
        "",
        '{"query": "weather',
        ' in Paris"}',
    ),
    *_result_block(
        2,
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_01",
            "content": [
                {
                    "type": "web_search_result",
                    "title": "Paris weather",
                    "url": "https://example.com/paris",
                    "encrypted_content": "EqgfCioIARgB",
                    "page_age": None,
                }
            ],
        },
    ),
    *_tool_block(
        3,
        {"type": "server_tool_use", "id": "srvtoolu_02", "name": "code_execution", "input": {}},
        '{"code": "print(6 * 7)"}',
    ),
    *_result_block(
        4,
        {
            "type": "bash_code_execution_tool_result",
            "tool_use_id": "srvtoolu_02",
            "content": {
                "type": "bash_code_execution_result",
                "stdout": "42\n",
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
        },
    ),
    *_tool_block(
        5,
        {
            "type": "mcp_tool_use",
            "id": "mcptoolu_01",
            "name": "echo",
            "server_name": "example-mcp",
            "input": {},
        },
        '{"param": "hi"}',
    ),
    *_result_block(
        6,
        {
            "type": "mcp_tool_result",
            "tool_use_id": "mcptoolu_01",
            "is_error": False,
            "content": [{"type": "text", "text": "hi"}],
        },
    ),
    *_tool_block(
        7, {"type": "server_tool_use", "id": "srvtoolu_03", "name": "advisor", "input": {}}, ""
    ),
    *_result_block(
        8,
        {
            "type": "advisor_tool_result",
            "tool_use_id": "srvtoolu_03",
            "content": {"type": "advisor_result", "text": "Answer with the forecast."},
        },
    ),
]


def _events(*blocks: dict[str, Any], stop_reason: str = "end_turn") -> list[dict[str, Any]]:
    start = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 2679, "output_tokens": 3},
    }
    return [
        {"type": "message_start", "message": start},
        *_text(0, "Let me look that up."),
        *blocks,
        *_text(9, "It is sunny."),
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 510, "server_tool_use": {"web_search_requests": 1}},
        },
        {"type": "message_stop"},
    ]


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


def _provider(*bodies: bytes) -> tuple[AnthropicProvider, list[dict[str, Any]]]:
    """A provider whose server streams ``bodies`` in turn; returns the JSON it was sent."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        if len(sent) > len(bodies):
            error = {"type": "invalid_request_error", "message": "no more scripted answers"}
            return httpx2.Response(400, json={"type": "error", "error": error})
        body = bodies[len(sent) - 1]
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    provider = AnthropicProvider(
        api_key="sk-ant-test", transport=httpx2.MockTransport(handler), default_model=MODEL
    )
    return provider, sent


def _request() -> LLMRequest:
    return LLMRequest(messages=(Message(role="user", content="Weather in Paris?"),), tools=(ADD,))


async def _stream(provider: AnthropicProvider) -> list[StreamChunk]:
    async with aclosing(provider.stream(_request())) as stream:
        return [chunk async for chunk in stream]


async def test_server_tool_blocks_in_a_stream_are_not_tool_calls() -> None:
    provider, _ = _provider(_sse(_events(*SERVER_BLOCKS)))
    chunks = await _stream(provider)
    await provider.aclose()
    assert [chunk.text for chunk in chunks[:-1]] == ["Let me look that up.", "It is sunny."]
    assert (chunks[-1].tool_calls, chunks[-1].finish_reason) == ((), "stop")


async def test_a_client_tool_call_among_server_tool_blocks_is_the_only_call() -> None:
    client_call = _tool_block(
        10,
        {"type": "tool_use", "id": "toolu_07", "name": "add", "input": {}},
        '{"a": ',
        "17}",
    )
    provider, _ = _provider(_sse(_events(*SERVER_BLOCKS, *client_call, stop_reason="tool_use")))
    chunks = await _stream(provider)
    await provider.aclose()
    assert chunks[-1].tool_calls == (ToolCall(id="toolu_07", name="add", arguments={"a": 17}),)
    assert chunks[-1].finish_reason == "tool_calls"


async def test_argument_text_for_a_block_that_is_no_tool_use_is_no_call() -> None:
    # An input_json_delta for an index no tool_use block opened (a block type this
    # release does not know, or a server's mistake) never becomes a tool call.
    stray = {
        "type": "content_block_delta",
        "index": 5,
        "delta": {"type": "input_json_delta", "partial_json": '{"query": "x"}'},
    }
    provider, _ = _provider(_sse(_events(stray)))
    chunks = await _stream(provider)
    await provider.aclose()
    assert chunks[-1].tool_calls == ()


async def test_the_stream_and_the_call_agree_on_server_tool_blocks() -> None:
    client_call = _tool_block(
        10, {"type": "tool_use", "id": "toolu_07", "name": "add", "input": {}}, '{"a": 1}'
    )
    events = _events(*SERVER_BLOCKS, *client_call, stop_reason="tool_use")
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:  # the same message, as one JSON body
        if event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
    blocks[0]["text"], blocks[9]["text"] = "Let me look that up.", "It is sunny."
    blocks[10]["input"] = {"a": 1}
    message = {
        **events[0]["message"],
        "content": [blocks[index] for index in sorted(blocks)],
        "stop_reason": "tool_use",
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=message)

    called = AnthropicProvider(api_key="sk-ant-test", transport=httpx2.MockTransport(handler))
    response = await called.complete(_request())
    await called.aclose()
    streamed, _ = _provider(_sse(events))
    chunks = await _stream(streamed)
    await streamed.aclose()
    assert response.tool_calls == chunks[-1].tool_calls


async def test_the_tool_loop_runs_no_phantom_call_for_server_tools() -> None:
    calls: list[int] = []

    def add(a: int) -> int:
        calls.append(a)
        return a

    provider, sent = _provider(_sse(_events(*SERVER_BLOCKS)))
    client = Aether(provider)
    async with client, aclosing(client.stream_text("Weather in Paris?", tools=[add])) as stream:
        deltas = [delta async for delta in stream]
    assert "".join(deltas) == "Let me look that up.It is sunny."
    assert (len(sent), calls) == (1, [])


# -- usage.iterations: what the provider bills ---------------------------------------------

COMPACTED_USAGE = {
    # The top level counts the answer only; the compaction that summarised the
    # conversation first is billed too, and reported in ``iterations`` alone.
    "input_tokens": 23000,
    "output_tokens": 1000,
    "cache_read_input_tokens": 0,
    "cache_creation_input_tokens": 0,
    "iterations": [
        {
            "type": "compaction",
            "input_tokens": 180000,
            "output_tokens": 3500,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
        {
            "type": "message",
            "input_tokens": 23000,
            "output_tokens": 1000,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    ],
}

ADVISED_USAGE = {
    "input_tokens": 412,
    "output_tokens": 531,
    "cache_read_input_tokens": 8000,
    "cache_creation_input_tokens": 120,
    "iterations": [
        {
            "type": "message",
            "input_tokens": 200,
            "output_tokens": 31,
            "cache_read_input_tokens": 4000,
            "cache_creation_input_tokens": 120,
        },
        {
            "type": "advisor_message",
            "model": "claude-opus-4-6",
            "input_tokens": 4823,
            "output_tokens": 1612,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
        {
            "type": "message",
            "input_tokens": 212,
            "output_tokens": 500,
            "cache_read_input_tokens": 4000,
            "cache_creation_input_tokens": 0,
        },
    ],
}

# (input with cache reads and writes, output, cache reads, cache writes)
BILLED = {
    "compaction": (203000, 4500, 0, 0),
    "advisor": (200 + 4000 + 120 + 4823 + 212 + 4000, 31 + 1612 + 500, 8000, 120),
}
USAGES = {"compaction": COMPACTED_USAGE, "advisor": ADVISED_USAGE}


def _counts(item: Any) -> tuple[int | None, ...]:
    return (
        item.input_tokens,
        item.output_tokens,
        item.cached_input_tokens,
        item.cache_write_tokens,
    )


@pytest.mark.parametrize("case", ["compaction", "advisor"])
async def test_a_call_counts_every_billed_iteration(case: str) -> None:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [
            {"type": "compaction", "content": "Summary: ..."},
            {"type": "text", "text": "Hi"},
        ],
        "stop_reason": "end_turn",
        "usage": USAGES[case],
    }
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=message))
    provider = AnthropicProvider(api_key="sk-ant-test", transport=transport)
    response = await provider.complete(_request())
    await provider.aclose()
    assert (response.text, _counts(response)) == ("Hi", BILLED[case])


@pytest.mark.parametrize("case", ["compaction", "advisor"])
async def test_a_stream_counts_every_billed_iteration(case: str) -> None:
    usage = USAGES[case]
    events = _events()
    events[0]["message"]["usage"] = {"input_tokens": usage["input_tokens"], "output_tokens": 1}
    events[-2]["usage"] = usage  # message_delta carries the cumulative usage, iterations too
    provider, _ = _provider(_sse(events))
    chunks = await _stream(provider)
    await provider.aclose()
    assert _counts(chunks[-1]) == BILLED[case]


async def test_client_usage_counts_the_compaction() -> None:
    events = _events()
    events[-2]["usage"] = COMPACTED_USAGE
    provider, _ = _provider(_sse(events))
    async with Aether(provider) as client:
        async with aclosing(client.stream_text("Weather in Paris?")) as stream:
            async for _delta in stream:
                pass
        assert (client.usage.total_input_tokens, client.usage.total_output_tokens) == (
            203000,
            4500,
        )
