"""The stored format: versioned JSON that reads back exactly, and fails loudly."""

from __future__ import annotations

import json

import pytest

from aether import ImagePart, Message, ReasoningPart, SessionCorruptedError
from aether.memory.codec import (
    FORMAT_VERSION,
    decode_history,
    decode_message,
    encode_history,
    encode_message,
)
from aether.testing.store_conformance import sample_history


def test_messages_round_trip() -> None:
    history = sample_history()
    assert [decode_message("s", encode_message(message)) for message in history] == history


def test_histories_round_trip() -> None:
    assert decode_history("s", encode_history(sample_history())) == sample_history()


def test_records_carry_the_format_version_and_leave_defaults_out() -> None:
    record = json.loads(encode_message(sample_history()[0]))
    assert record == {
        "v": FORMAT_VERSION,
        "message": {"role": "system", "content": "You are terse."},
    }


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("{broken", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ('["a list"]', "no 'message' field"),
        ('{"v": 2, "message": {"role": "user"}}', "format version 2"),
        ('{"message": {"role": "user"}}', "format version None"),
        ('{"v": 1, "message": {"role": "wizard"}}', "not a valid message"),
        ('{"v": 1, "message": {"role": "user", "colour": "red"}}', "not a valid message"),
    ],
)
def test_unreadable_records_raise_corrupted_naming_the_session(
    data: str | bytes, reason: str
) -> None:
    with pytest.raises(SessionCorruptedError, match=reason) as caught:
        decode_message("alice", data)
    assert caught.value.session_id == "alice"
    assert "'alice'" in str(caught.value)


def test_a_history_whose_messages_are_not_a_list_raises_corrupted() -> None:
    with pytest.raises(SessionCorruptedError, match="not a list"):
        decode_history("alice", '{"v": 1, "messages": {"role": "user"}}')


def test_a_part_is_stored_tagged_with_its_bytes_in_base64() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(4)
    message = Message(role="user", content=["hi", ImagePart(data=png)])
    record = json.loads(encode_message(message))
    assert record == {
        "v": 1,
        "message": {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image", "data": "iVBORw0KGgoAAAAA", "media_type": "image/png"},
            ],
        },
    }
    assert decode_message("s", json.dumps(record)) == message


def test_a_reasoning_part_with_only_defaults_reads_back_as_reasoning() -> None:
    message = Message(role="assistant", content=[ReasoningPart(text="hmm"), "ok"])
    assert decode_message("s", encode_message(message)) == message


def test_parts_keep_their_type_through_the_codec() -> None:
    from aether.llm.contracts import ImagePart, Message, ReasoningPart, TextPart, ToolCall

    message = Message(
        role="assistant",
        content=(
            ReasoningPart(text="hmm", signature="c2ln", provider="anthropic"),
            TextPart(text="Here:"),
            ImagePart(data=b"\x89PNG\r\n\x1a\n" + bytes(4)),
        ),
        tool_calls=(ToolCall(id="c1", name="f", signature="Y2FsbA=="),),
    )
    assert decode_message("s", encode_message(message)) == message
