"""Content parts and token counts: the contracts every wire, store and cache build on."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from aether import (
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    ReasoningPart,
    StreamChunk,
    TextPart,
    TokenCounts,
    ToolResult,
    part_from_path,
)
from aether.llm.contracts import content_text, map_content_text

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + bytes(32)
PDF = b"%PDF-1.7\n" + bytes(32)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16)


def test_a_list_of_strings_and_parts_becomes_parts() -> None:
    message = Message(role="user", content=["What is this?", ImagePart(data=PNG)])
    assert isinstance(message.content, tuple)
    assert message.content[0] == TextPart(text="What is this?")
    assert message.text == "What is this?"
    assert [part.type for part in message.parts] == ["text", "image"]


def test_plain_text_content_stays_a_string() -> None:
    message = Message(role="user", content="hi")
    assert message.content == "hi"
    assert message.parts == (TextPart(text="hi"),)
    assert Message(role="assistant").parts == ()


def test_the_media_type_is_read_from_the_bytes() -> None:
    assert ImagePart(data=PNG).media_type == "image/png"
    assert ImagePart(data=JPEG).media_type == "image/jpeg"
    assert AudioPart(data=WAV).media_type == "audio/wav"
    assert DocumentPart(data=PDF).media_type == "application/pdf"


def test_a_declared_type_that_contradicts_the_bytes_is_refused_naming_both() -> None:
    with pytest.raises(ValidationError) as raised:
        ImagePart(data=JPEG, media_type="image/png")
    message = str(raised.value)
    assert "'image/png'" in message
    assert "image/jpeg" in message


def test_aliases_of_a_media_type_are_the_same_type() -> None:
    assert ImagePart(data=JPEG, media_type="image/jpg").media_type == "image/jpeg"


def test_unrecognisable_bytes_need_a_media_type() -> None:
    with pytest.raises(ValidationError, match="give media_type"):
        DocumentPart(data=b"plain words")
    assert DocumentPart(data=b"plain words", media_type="text/plain").size == 11


def test_a_part_of_the_wrong_kind_names_the_right_one() -> None:
    with pytest.raises(ValidationError, match="use DocumentPart"):
        ImagePart(data=PDF)
    with pytest.raises(ValidationError, match="use ImagePart"):
        DocumentPart(data=PNG)
    with pytest.raises(ValidationError, match="use AudioPart"):
        ImagePart(url="https://example.com/clip.mp3")


def test_data_or_url_but_not_both_nor_neither() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        ImagePart()
    with pytest.raises(ValidationError, match="exactly one"):
        ImagePart(data=PNG, url="https://example.com/a.png")


def test_a_url_gets_its_type_from_its_name() -> None:
    part = ImagePart(url="https://example.com/cat.webp?size=large")
    assert (part.url, part.media_type, part.data) == (
        "https://example.com/cat.webp?size=large",
        "image/webp",
        None,
    )
    assert ImagePart(url="https://example.com/picture").media_type is None


def test_a_data_url_becomes_bytes() -> None:
    encoded = base64.b64encode(PNG).decode()
    part = ImagePart(url=f"data:image/png;base64,{encoded}")
    assert (part.data, part.url, part.media_type) == (PNG, None, "image/png")


def test_from_path_reads_the_file_and_names_documents(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(PDF)
    (tmp_path / "notes.txt").write_text("remember the milk")
    (tmp_path / "photo.png").write_bytes(PNG)
    document = DocumentPart.from_path(tmp_path / "scan.pdf")
    assert (document.media_type, document.name, document.data) == (
        "application/pdf",
        "scan.pdf",
        PDF,
    )
    notes = part_from_path(tmp_path / "notes.txt")
    assert isinstance(notes, DocumentPart)
    assert notes.media_type == "text/plain"
    assert isinstance(part_from_path(tmp_path / "photo.png"), ImagePart)
    with pytest.raises(ValidationError, match="use ImagePart"):
        DocumentPart.from_path(tmp_path / "photo.png")


def test_parts_survive_a_json_round_trip_exactly() -> None:
    message = Message(
        role="assistant",
        content=[
            ReasoningPart(text="think", signature="sig==", provider="anthropic"),
            "answer",
            ImagePart(data=PNG, detail="low"),
            DocumentPart(data=b"a\x00b", media_type="text/plain", name="t.txt"),
        ],
    )
    dumped = message.model_dump_json()
    assert base64.b64encode(PNG).decode() in dumped
    assert Message.model_validate_json(dumped) == message
    assert Message.model_validate(json.loads(dumped)) == message


def test_text_given_for_data_must_be_base64() -> None:
    with pytest.raises(ValidationError, match="base64"):
        ImagePart(data="not base64 at all!")


def test_reprs_show_the_size_never_the_bytes() -> None:
    secret = b"\x89PNG\r\n\x1a\n" + b"SECRET-BYTES" * 10
    shown = repr(ImagePart(data=secret))
    assert "SECRET" not in shown
    assert f"size={len(secret)}" in shown


def test_tool_results_carry_parts() -> None:
    result = ToolResult(call_id="c1", name="snap", content=["a chart", ImagePart(data=PNG)])
    assert result.text == "a chart"
    assert isinstance(result.content[1], ImagePart)  # type: ignore[index]


def test_map_content_text_changes_text_parts_only() -> None:
    reasoning = ReasoningPart(text="secret thoughts", signature="s")
    content = (TextPart(text="abc"), reasoning)
    mapped = map_content_text(content, str.upper)
    assert mapped == (TextPart(text="ABC"), reasoning)
    assert map_content_text("abc", str.upper) == "ABC"
    assert content_text(mapped) == "ABC"


def test_token_counts_add_up() -> None:
    total = TokenCounts(input=10, output=5, cached_input=2) + TokenCounts(input=1, reasoning=3)
    assert (total.input, total.output, total.cached_input, total.reasoning) == (11, 5, 2, 3)
    assert total.total == 16


def test_responses_take_the_flat_counts_of_earlier_releases() -> None:
    response = LLMResponse(text="", model="m", input_tokens=1, output_tokens=2, reasoning_tokens=1)
    assert response.tokens == TokenCounts(input=1, output=2, reasoning=1)
    assert (response.input_tokens, response.output_tokens, response.reasoning_tokens) == (1, 2, 1)
    with pytest.raises(ValidationError, match="not both"):
        LLMResponse(model="m", tokens=TokenCounts(), input_tokens=1)


def test_chunks_report_counts_only_on_the_final_chunk() -> None:
    delta = StreamChunk(text="hi")
    assert (delta.tokens, delta.input_tokens, delta.output_tokens) == (None, None, None)
    final = StreamChunk(finish_reason="stop", tokens=TokenCounts(input=4, output=2))
    assert (final.input_tokens, final.output_tokens, final.cached_input_tokens) == (4, 2, 0)
    unreported = StreamChunk(finish_reason="stop")
    assert (unreported.tokens, unreported.output_tokens) == (None, None)


def test_chunks_take_counts_as_one_token_counts_only() -> None:
    with pytest.raises(ValidationError, match="input_tokens"):
        StreamChunk(finish_reason="stop", input_tokens=4)


def test_reasoning_text_and_the_assistant_message_of_a_response() -> None:
    parts = (ReasoningPart(text="Let me think. ", signature="s"), TextPart(text="42"))
    response = LLMResponse(text="42", model="m", parts=parts)
    assert response.reasoning == "Let me think. "
    assert response.message.content == parts
    assert LLMResponse(text="plain", model="m").message.content == "plain"


def test_reasoning_chunks_carry_their_delta_apart_from_text() -> None:
    chunk = StreamChunk(kind="reasoning", reasoning="hmm")
    assert (chunk.text, chunk.reasoning) == ("", "hmm")


def test_the_developer_role_exists() -> None:
    assert Message(role="developer", content="be brief").role == "developer"


@pytest.mark.parametrize("value", ["low", "high", "none", 2048])
def test_reasoning_takes_an_effort_or_a_budget(value: object) -> None:
    assert (
        LLMRequest(messages=(Message(role="user", content="q"),), reasoning=value).reasoning
        == value
    )


@pytest.mark.parametrize("value", ["extreme", -1, True])
def test_reasoning_refuses_other_values(value: object) -> None:
    with pytest.raises(ValidationError):
        LLMRequest(messages=(Message(role="user", content="q"),), reasoning=value)


def test_a_media_part_knows_the_sha256_of_its_bytes() -> None:
    import hashlib

    assert ImagePart(data=PNG).sha256() == hashlib.sha256(PNG).hexdigest()
    assert ImagePart(url="https://example.com/a.png").sha256() is None
