"""Mapping MCP content to Aether parts and back, and the input-schema check (no server)."""

from __future__ import annotations

import base64

import mcp_types
import pytest

from aether import register_tool
from aether.errors import ToolArgumentsError
from aether.llm.content import AudioPart, DocumentPart, ImagePart, ReasoningPart, TextPart
from aether.mcp._results import (
    ArgumentsCheck,
    blocks_from_content,
    content_from_result,
    result_text,
)
from aether.tools import dispatch_tool
from tests.mcp._support import PDF, PNG

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)


def text(value: str) -> mcp_types.TextContent:
    return mcp_types.TextContent(type="text", text=value)


def image(data: bytes, mime_type: str) -> mcp_types.ImageContent:
    return mcp_types.ImageContent(
        type="image", data=base64.b64encode(data).decode(), mime_type=mime_type
    )


def result(*blocks: mcp_types.ContentBlock, structured: object = None) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(content=list(blocks), structured_content=structured)


def test_text_blocks_join_into_plain_text() -> None:
    assert content_from_result(result(text("one"), text("two"))) == "one\ntwo"


def test_media_blocks_become_parts_in_order() -> None:
    audio = mcp_types.AudioContent(
        type="audio", data=base64.b64encode(WAV).decode(), mime_type="audio/wav"
    )

    content = content_from_result(result(text("Here:"), image(PNG, "image/png"), audio))

    assert isinstance(content, tuple)
    assert [type(part) for part in content] == [TextPart, ImagePart, AudioPart]
    assert content[1].data == PNG  # type: ignore[union-attr]


def test_the_bytes_win_over_a_wrong_declared_media_type() -> None:
    (part,) = content_from_result(result(image(PNG, "image/jpeg")))

    assert isinstance(part, ImagePart)
    assert part.media_type == "image/png"


def test_unreadable_media_becomes_a_note_not_a_crash() -> None:
    content = content_from_result(result(text("Chart:"), image(b"not an image", "text/plain")))

    assert isinstance(content, str)
    assert content.startswith("Chart:\n[image content that could not be read:")


def test_resources_and_links_become_documents_and_text() -> None:
    blob = mcp_types.BlobResourceContents(
        uri="file:///srv/q3.pdf", blob=base64.b64encode(PDF).decode(), mime_type="application/pdf"
    )
    link = mcp_types.ResourceLink(
        type="resource_link", name="q3", title="Q3 report", uri="file:///srv/q3.pdf"
    )

    content = content_from_result(
        result(mcp_types.EmbeddedResource(type="resource", resource=blob), link)
    )

    assert isinstance(content, tuple)
    document, note = content
    assert isinstance(document, DocumentPart)
    assert (document.name, document.media_type) == ("q3.pdf", "application/pdf")
    assert note == TextPart(text="[resource link: Q3 report <file:///srv/q3.pdf>]")


def test_structured_content_alone_is_sent_as_json() -> None:
    assert content_from_result(result(structured={"total": 3})) == '{"total": 3}'
    assert content_from_result(result()) == ""


def test_an_error_result_without_text_still_says_something() -> None:
    assert result_text(result(image(PNG, "image/png"))) == (
        "the tool reported an error without a message"
    )
    assert result_text(result(structured={"code": 7})) == '{"code": 7}'


def test_aether_parts_become_mcp_blocks() -> None:
    blocks = blocks_from_content(
        [
            TextPart(text="hi"),
            ImagePart(data=PNG),
            ImagePart(url="https://example.com/cat.png"),
            AudioPart(data=WAV),
            DocumentPart(data=PDF, name="q3.pdf"),
            ReasoningPart(text="private"),
        ]
    )

    assert [block.type for block in blocks] == ["text", "image", "text", "audio", "resource"]
    assert blocks[2] == text("[image: https://example.com/cat.png]")
    resource = blocks[4]
    assert isinstance(resource, mcp_types.EmbeddedResource)
    assert resource.resource.uri == "aether:document/q3.pdf"
    assert blocks_from_content("plain") == [text("plain")]


def test_the_schema_check_lists_each_problem_with_its_path() -> None:
    check = ArgumentsCheck(
        "search",
        {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "filters": {"type": "object", "properties": {"year": {"type": "integer"}}},
            },
            "required": ["query"],
        },
    )

    check({"query": "x", "filters": {"year": 2024}})
    with pytest.raises(ToolArgumentsError) as raised:
        check({"filters": {"year": "last"}})

    assert str(raised.value) == (
        "invalid arguments for tool 'search': (arguments): 'query' is a required property; "
        "filters.year: 'last' is not of type 'integer'"
    )


def test_a_schema_that_is_not_json_schema_is_left_to_the_server() -> None:
    check = ArgumentsCheck("odd", {"type": "object", "properties": {"a": {"type": 12}}})

    check({"a": "anything"})  # no local check, no crash


async def test_a_registered_tool_may_return_parts() -> None:
    @register_tool
    def snapshot() -> list[object]:
        return [TextPart(text="The chart:"), ImagePart(data=PNG)]

    @register_tool
    def plain() -> list[object]:
        return ["a", 1]

    shown = await dispatch_tool("snapshot")
    listed = await dispatch_tool("plain")

    assert shown.content == (TextPart(text="The chart:"), ImagePart(data=PNG))
    assert listed.content == '["a",1]'
