"""Property-based tests of stream reassembly: however a stream is cut, the same answer.

A streamed tool call arrives as argument text in fragments, inside SSE events that
arrive in network reads of any size. Hypothesis cuts all three at random: the argument
text into fragments, the fragments of parallel calls interleaved, and the whole body
into reads that split events, lines and UTF-8 characters. The assembled text and tool
calls must be exactly those sent: first the private pieces on their own (the SSE parser,
the tool-call assembler), then the real adapters through their SDKs and wire formats.
"""

from __future__ import annotations

import itertools
import json
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.errors import ServerError
from aether.extensions.llm._sse import ServerSentEvent, SSEParser
from aether.extensions.llm._tool_calls import ToolCallAssembler
from aether.llm.contracts import LLMRequest, Message, StreamChunk, Tool, ToolCall
from aether.testing.wire import (
    MockServer,
    ScriptedReply,
    ScriptedToolCall,
    StreamErrorEvent,
    WireFormat,
)
from aether.testing.wires import BUILTIN_WIRES

FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ARGUMENTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)
TOOL_NAMES = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
NO_LINE_BREAKS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")


def cut(draw: st.DrawFn, text: str, *, most: int = 6) -> list[str]:
    """``text`` cut at random places (empty pieces included); the pieces join to it."""
    points = sorted(draw(st.lists(st.integers(0, len(text)), max_size=most)))
    bounds = [0, *points, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


def cut_bytes(draw: st.DrawFn, body: bytes, *, most: int = 12) -> list[bytes]:
    points = sorted(draw(st.lists(st.integers(0, len(body)), max_size=most)))
    bounds = [0, *points, len(body)]
    return [body[start:end] for start, end in itertools.pairwise(bounds)]


# -- the tool-call assembler ------------------------------------------------------------


@st.composite
def interleaved_fragments(draw: st.DrawFn) -> tuple[list[ToolCall], list[tuple[Any, ...]]]:
    """Calls, and their fragments as a stream delivers them: each call's in order, the
    calls interleaved, the first fragment of each carrying its id and name."""
    count = draw(st.integers(1, 4))
    calls = [
        ToolCall(id=f"call_{index}", name=draw(TOOL_NAMES), arguments=draw(ARGUMENTS))
        for index in range(count)
    ]
    pieces = [cut(draw, json.dumps(call.arguments, ensure_ascii=False)) for call in calls]
    queue = [index for index, parts in enumerate(pieces) for _ in parts]
    order = draw(st.permutations(queue))
    fragments: list[tuple[Any, ...]] = []
    started: set[int] = set()
    next_piece = [0] * count
    for index in order:
        piece = pieces[index][next_piece[index]]
        next_piece[index] += 1
        if index in started:
            fragments.append((index, None, None, piece))
        else:
            started.add(index)
            fragments.append((index, calls[index].id, calls[index].name, piece))
    first_seen = sorted(range(count), key=lambda index: [f[0] for f in fragments].index(index))
    return [calls[index] for index in first_seen], fragments


@settings(max_examples=100, deadline=None)
@given(interleaved_fragments())
def test_any_split_and_interleaving_of_fragments_assembles_the_same_calls(
    case: tuple[list[ToolCall], list[tuple[Any, ...]]],
) -> None:
    expected, fragments = case
    assembler = ToolCallAssembler()
    for key, call_id, name, arguments in fragments:
        assembler.add(key, call_id=call_id, name=name, arguments=arguments)
    assert list(assembler.calls()) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(TOOL_NAMES, ARGUMENTS), min_size=1, max_size=3), st.data())
def test_keyless_fragments_continue_the_latest_call(
    calls: list[tuple[str, dict[str, Any]]], data: st.DataObject
) -> None:
    assembler = ToolCallAssembler()
    for index, (name, arguments) in enumerate(calls):
        pieces = cut(data.draw, json.dumps(arguments))
        assembler.add(index, call_id=f"call_{index}", name=name, arguments=pieces[0])
        for piece in pieces[1:]:
            assembler.add(None, arguments=piece)
    assert list(assembler.calls()) == [
        ToolCall(id=f"call_{index}", name=name, arguments=arguments)
        for index, (name, arguments) in enumerate(calls)
    ]


# -- the SSE parser ---------------------------------------------------------------------


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[list[ServerSentEvent], bytes]:
    """Events, and a byte stream encoding them with any mix of line endings and comments."""
    events = draw(
        st.lists(
            st.tuples(
                st.none() | st.text(NO_LINE_BREAKS, min_size=1, max_size=10),
                st.lists(st.text(NO_LINE_BREAKS, max_size=20), min_size=1, max_size=3),
            ),
            max_size=5,
        )
    )
    lines: list[str] = []
    for name, data in events:
        if draw(st.booleans()):
            lines.append(": keep-alive")
        if name is not None:
            lines.append(f"event: {name}")
        lines += [f"data: {line}" for line in data]
        lines.append("")  # the blank line that dispatches the event
    text = ""
    for line in lines:
        # "\r" then an empty line ending in "\n" would read as one "\r\n": not that.
        ambiguous = text.endswith("\r") and not line
        text += line + draw(st.sampled_from(["\r\n", "\r"] if ambiguous else ["\n", "\r\n", "\r"]))
    parsed = [ServerSentEvent(name, "\n".join(data)) for name, data in events]
    return parsed, text.encode()


@settings(max_examples=150, deadline=None)
@given(event_streams(), st.data())
def test_any_split_of_an_sse_byte_stream_parses_to_the_same_events(
    stream: tuple[list[ServerSentEvent], bytes], data: st.DataObject
) -> None:
    expected, body = stream
    parser = SSEParser()
    events: list[ServerSentEvent] = []
    for piece in cut_bytes(data.draw, body):
        events += parser.feed(piece)
    events += parser.flush()
    assert events == expected


@settings(max_examples=150, deadline=None)
@given(event_streams(), st.data())
def test_each_event_ends_where_feed_with_ends_says(
    stream: tuple[list[ServerSentEvent], bytes], data: st.DataObject
) -> None:
    # The bytes read so far, up to an event's end, hold exactly the events up to it.
    expected, body = stream
    parser = SSEParser()
    sent = b""
    seen: list[ServerSentEvent] = []
    for piece in cut_bytes(data.draw, body):
        for event, end in parser.feed_with_ends(piece):
            seen.append(event)
            replay = SSEParser()
            assert replay.feed(sent + piece[:end]) == seen
        sent += piece
    assert seen + parser.flush() == expected


# -- the real adapters, through their wire formats -----------------------------------------


@st.composite
def streamed_replies(draw: st.DrawFn) -> ScriptedReply:
    texts = draw(st.lists(st.text(min_size=1, max_size=15), max_size=4))
    names = draw(st.lists(TOOL_NAMES, max_size=3))
    calls = tuple(
        ScriptedToolCall(
            f"call_{index}",
            name,
            tuple(cut(draw, json.dumps(draw(ARGUMENTS), ensure_ascii=False))),
        )
        for index, name in enumerate(names)
    )
    return ScriptedReply(
        text=tuple(texts), tool_calls=calls, finish_reason="tool_calls" if calls else "stop"
    )


def tool(name: str) -> Tool:
    return Tool(name=name, parameters={"type": "object", "properties": {}})


pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(reply=streamed_replies(), data=st.data())
async def test_any_split_of_a_vendor_stream_yields_the_same_text_and_calls(
    wire: WireFormat, reply: ScriptedReply, data: st.DataObject
) -> None:
    server = MockServer(wire, [reply])
    server.split_body = lambda body: cut_bytes(data.draw, body, most=20)
    provider = wire.build_provider(server)
    request = LLMRequest(
        messages=(Message(role="user", content="go"),),
        tools=tuple(tool(call.name) for call in reply.tool_calls),
    )
    chunks: list[StreamChunk] = []
    try:
        async with aclosing(provider.stream(request)) as stream:
            async for chunk in stream:
                chunks.append(chunk)
    finally:
        await provider.aclose()
    assert [chunk.text for chunk in chunks[:-1]] == list(reply.text)
    assert chunks[-1].tool_calls == tuple(
        ToolCall(id=call.id, name=call.name, arguments=json.loads(call.argument_text))
        for call in reply.tool_calls
    )
    assert server.open_streams == 0


@st.composite
def texts_then_an_error(draw: st.DrawFn) -> StreamErrorEvent:
    texts = draw(st.lists(st.text(min_size=1, max_size=15), min_size=1, max_size=3))
    return StreamErrorEvent(text=tuple(texts), message="the server is overloaded")


async def _until_the_error(provider: Any, *, expected: type[Exception]) -> list[str]:
    request = LLMRequest(messages=(Message(role="user", content="go"),))
    received: list[str] = []
    try:
        with pytest.raises(expected):
            async with aclosing(provider.stream(request)) as stream:
                async for chunk in stream:
                    received.append(chunk.text)
    finally:
        await provider.aclose()
    return received


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_text_and_an_error_event_in_one_read_reach_the_caller_in_order(
    wire: WireFormat,
) -> None:
    server = MockServer(wire, [StreamErrorEvent(text=("maybe",))])
    server.split_body = lambda body: [body]  # every event in a single network read
    received = await _until_the_error(wire.build_provider(server), expected=ServerError)
    assert received == ["maybe"]
    assert server.open_streams == 0


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(item=texts_then_an_error(), data=st.data())
async def test_any_split_delivers_the_text_before_the_error_event(
    wire: WireFormat, item: StreamErrorEvent, data: st.DataObject
) -> None:
    server = MockServer(wire, [item])
    server.split_body = lambda body: cut_bytes(data.draw, body, most=20)
    received = await _until_the_error(wire.build_provider(server), expected=ServerError)
    assert received == list(item.text)
    assert server.open_streams == 0
