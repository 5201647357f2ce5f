"""MCP content to Aether content and back, and arguments checked against an input schema.

A tool result from an MCP server is a list of content blocks; the model reads them as a
`ToolResult`: text blocks as text, images and audio as `ImagePart` and `AudioPart`,
embedded resources as text or as a media part by their type, resource links as a line of
text naming the link. A result with no blocks but structured content is sent as its JSON
(a server that gives both repeats the JSON in a text block, as the specification asks).
Text-only results stay plain strings, which every provider takes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aether.errors import ToolArgumentsError
from aether.llm.content import AudioPart, DocumentPart, ImagePart, Part, TextPart

if TYPE_CHECKING:
    import mcp_types

__all__ = ["ArgumentsCheck", "blocks_from_content", "content_from_result", "result_text"]

_MAX_PROBLEMS = 5
_MAX_SHOWN = 160


_MEDIA_PARTS: dict[str, type[ImagePart | AudioPart | DocumentPart]] = {
    "image": ImagePart,
    "audio": AudioPart,
}


def _media_part(
    data: str, media_type: str | None, *, kind: str | None = None, name: str | None = None
) -> Part:
    """An image, audio or document part (by block kind, else by media type).

    The bytes win over a declared type that contradicts them; bytes that fit neither
    become a note, so one bad block never loses the rest of the result.
    """
    family = kind or (media_type or "").split("/", 1)[0]
    cls = _MEDIA_PARTS.get(family, DocumentPart)
    extra: dict[str, Any] = {"name": name} if cls is DocumentPart and name else {}
    problem = ""
    for declared in (media_type, None):
        try:
            return cls(data=data, media_type=declared, **extra)
        except ValueError as error:
            problem = str(error)
    return TextPart(text=f"[{family or 'binary'} content that could not be read: {problem}]")


def _resource_part(
    resource: mcp_types.TextResourceContents | mcp_types.BlobResourceContents,
) -> Part:
    text = getattr(resource, "text", None)
    if isinstance(text, str):
        return TextPart(text=text)
    name = resource.uri.rsplit("/", 1)[-1] or None
    return _media_part(getattr(resource, "blob", ""), resource.mime_type, name=name)


def _part(block: mcp_types.ContentBlock) -> Part:
    kind = block.type
    if kind == "text":
        return TextPart(text=block.text)  # type: ignore[union-attr]
    if kind in ("image", "audio"):
        return _media_part(block.data, block.mime_type, kind=kind)  # type: ignore[union-attr]
    if kind == "resource":
        return _resource_part(block.resource)  # type: ignore[union-attr]
    if kind == "resource_link":
        title = getattr(block, "title", None) or getattr(block, "name", "")
        return TextPart(text=f"[resource link: {title} <{getattr(block, 'uri', '')}>]")
    return TextPart(text=f"[unsupported content block of type {kind!r}]")


def _joined(parts: Sequence[Part]) -> str | tuple[Part, ...]:
    if all(isinstance(part, TextPart) for part in parts):
        return "\n".join(part.text for part in parts)  # type: ignore[union-attr]
    return tuple(parts)


def content_from_result(result: mcp_types.CallToolResult) -> str | tuple[Part, ...]:
    """What the model reads for a successful ``tools/call`` result."""
    if result.content:
        return _joined([_part(block) for block in result.content])
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return ""


def result_text(result: mcp_types.CallToolResult) -> str:
    """The text of a result (an ``isError`` result's message, say); media left out."""
    texts = [getattr(block, "text", None) for block in result.content]
    text = "\n".join(item for item in texts if isinstance(item, str))
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    return text or "the tool reported an error without a message"


def blocks_from_content(content: str | Iterable[Part]) -> list[mcp_types.ContentBlock]:
    """Aether tool-result content as MCP content blocks (for serving tools over MCP)."""
    import mcp_types

    if isinstance(content, str):
        return [mcp_types.TextContent(type="text", text=content)]
    blocks: list[mcp_types.ContentBlock] = []
    for part in content:
        if isinstance(part, TextPart):
            blocks.append(mcp_types.TextContent(type="text", text=part.text))
        elif isinstance(part, ImagePart | AudioPart | DocumentPart) and part.data is not None:
            encoded = part.base64()
            mime = part.media_type or "application/octet-stream"
            if isinstance(part, ImagePart):
                blocks.append(mcp_types.ImageContent(type="image", data=encoded, mime_type=mime))
            elif isinstance(part, AudioPart):
                blocks.append(mcp_types.AudioContent(type="audio", data=encoded, mime_type=mime))
            else:
                uri = f"aether:document/{part.name or 'document'}"
                blob = mcp_types.BlobResourceContents(uri=uri, blob=encoded, mime_type=mime)
                blocks.append(mcp_types.EmbeddedResource(type="resource", resource=blob))
        elif isinstance(part, ImagePart | AudioPart | DocumentPart):
            blocks.append(mcp_types.TextContent(type="text", text=f"[{part.type}: {part.url}]"))
        # Reasoning and provider parts are conversation state, never tool output.
    return blocks


def _shortened(message: str) -> str:
    # jsonschema's messages repeat the offending value, which may be long.
    return message if len(message) <= _MAX_SHOWN else message[: _MAX_SHOWN - 3] + "..."


class ArgumentsCheck:
    """Checks a model's arguments against a tool's input schema before they are sent.

    The validator is compiled on first use. A schema that is not valid JSON Schema is not
    used (the server still checks the arguments it receives).
    """

    __slots__ = ("_compiled", "_validator", "schema", "tool_name")

    def __init__(self, tool_name: str, schema: Mapping[str, Any]) -> None:
        self.tool_name = tool_name
        self.schema = schema
        self._validator: Any = None
        self._compiled = False

    def _validator_now(self) -> Any:
        if not self._compiled:
            from jsonschema import exceptions, validators

            self._compiled = True
            try:
                cls = validators.validator_for(self.schema)
                cls.check_schema(self.schema)
                self._validator = cls(self.schema)
            except (exceptions.SchemaError, TypeError, ValueError):
                self._validator = None
        return self._validator

    def __call__(self, arguments: Mapping[str, Any]) -> None:
        """Raise `ToolArgumentsError` listing what does not fit the schema."""
        validator = self._validator_now()
        if validator is None:
            return
        errors = sorted(validator.iter_errors(arguments), key=lambda error: list(error.path))
        if not errors:
            return
        problems = []
        for error in errors[:_MAX_PROBLEMS]:
            where = ".".join(str(part) for part in error.path) or "(arguments)"
            problems.append(f"{where}: {_shortened(error.message)}")
        if len(errors) > _MAX_PROBLEMS:
            problems.append(f"and {len(errors) - _MAX_PROBLEMS} more")
        raise ToolArgumentsError(
            f"invalid arguments for tool {self.tool_name!r}: " + "; ".join(problems)
        )
