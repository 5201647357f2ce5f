"""Stored entries: versioned JSON that round-trips, and clear refusals of anything else."""

from __future__ import annotations

import json

import pytest
from _cache_helpers import answer

from aether import ImagePart, ProviderPart, ReasoningPart, StreamChunk, TextPart, TokenCounts
from aether.llm.streaming import final_chunk
from aether.middleware.cache import FORMAT_VERSION, CacheEntry, decode_entry, encode_entry

STREAM = (
    StreamChunk(text="Hello "),
    StreamChunk(text="world"),
    StreamChunk(
        finish_reason="stop", model="m", tokens=TokenCounts(input=3, output=2), cost_usd=0.1
    ),
)


def test_a_response_entry_round_trips() -> None:
    entry = CacheEntry(response=answer(finish_reason=None), created_at=12.5)
    assert decode_entry(encode_entry(entry)) == entry


def test_a_stream_entry_round_trips() -> None:
    entry = CacheEntry(chunks=STREAM, created_at=12.5)
    assert decode_entry(encode_entry(entry).encode()) == entry


def test_the_json_is_versioned_and_leaves_defaults_out() -> None:
    document = json.loads(encode_entry(CacheEntry(chunks=STREAM, created_at=1.0)))
    assert document["v"] == FORMAT_VERSION == 2
    assert document["chunks"][0] == {"text": "Hello "}
    assert "response" not in document


def test_an_entry_holds_a_response_or_chunks_not_both() -> None:
    with pytest.raises(ValueError, match="either a response or"):
        CacheEntry(response=answer(), chunks=STREAM)
    with pytest.raises(ValueError, match="either a response or"):
        CacheEntry()


def test_a_stream_entry_must_end_with_its_final_chunk() -> None:
    with pytest.raises(ValueError, match="final chunk"):
        CacheEntry(chunks=STREAM[:2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "not a cache entry"),
        ('["a list"]', "not a cache entry"),
        ('{"v": 2, "created_at": 1, "chunks": [{"text": "no final"}]}', "final chunk"),
        ('{"v": 2, "created_at": 1}', "either a response or"),
        ('{"v": 2, "created_at": 1, "response": {"text": "no model"}}', "not a cache entry"),
        ('{"v": 3, "created_at": 1, "response": {"model": "m"}}', "version 3.*a newer Aether"),
        ('{"v": 3, "created_at": 1, "answer": "a newer shape"}', "format version 3"),
        (
            '{"v": 1, "created_at": 1, "chunks": [{"finish_reason": "stop", "input_tokens": 3}]}',
            "version 1.*an earlier Aether",
        ),
        (b"\xff\xfe", "not a cache entry"),
    ],
    ids=["text", "list", "no-final", "empty", "invalid", "newer", "newer-shape", "older", "bytes"],
)
def test_unreadable_data_raises_value_error(data: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_entry(data)


def test_cost_and_tokens_read_from_either_kind() -> None:
    response_entry = CacheEntry(response=answer())
    stream_entry = CacheEntry(chunks=STREAM)
    assert (response_entry.cost_usd, response_entry.tokens.input) == (0.00045, 1000)
    assert (stream_entry.cost_usd, stream_entry.tokens) == (0.1, TokenCounts(input=3, output=2))
    assert (response_entry.is_stream, stream_entry.is_stream) == (False, True)
    assert stream_entry.final == STREAM[-1]
    assert response_entry.final is None


def test_an_entry_with_parts_round_trips_exactly() -> None:
    parts = (
        ReasoningPart(text="thinking", signature="c2lnbmF0dXJl", provider="anthropic"),
        ProviderPart(provider="anthropic", kind="server_tool_use", data={"id": "s1", "n": 2}),
        TextPart(text="A cat."),
        ImagePart(data=b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
    )
    response = answer().model_copy(update={"parts": parts, "text": "A cat."})
    stream = (*STREAM[:2], final_chunk(response))
    for entry in (CacheEntry(response=response), CacheEntry(chunks=stream)):
        assert decode_entry(encode_entry(entry)) == entry
