"""Content parts: what a message carries beyond plain text.

`Message.content` is a string (the common case) or an ordered tuple of parts::

    from aether import ImagePart, Message

    Message(role="user", content=["What is in this picture?", ImagePart.from_path("cat.png")])

A plain string inside a list becomes a `TextPart`. Media parts (`ImagePart`, `AudioPart`,
`DocumentPart`) hold either the bytes (``data`` with ``media_type``) or a ``url``; the
media type is guessed from the bytes or the file name when not given, and a declared type
that contradicts the bytes is refused here, naming both (a provider would answer 400).
`ReasoningPart` carries a model's reasoning and the opaque signature or encrypted payload
a provider needs back; `ProviderPart` carries provider-native content (a server-side tool
call and its result, say) that only the provider it came from can read.

Bytes are dumped to JSON as base64 and a string given for ``data`` is read as base64, so
a part survives a JSON round trip (sessions, caches, cassettes) exactly. Reprs show the
size of the bytes, never the bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import weakref
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from aether.llm._media import guess_media_type, normalise, sniff_media_type

__all__ = [
    "AudioPart",
    "DocumentPart",
    "ImagePart",
    "Part",
    "ProviderPart",
    "ReasoningPart",
    "TextPart",
    "part_from_path",
]

_PART = ConfigDict(frozen=True, extra="forbid")


class _Tagged(BaseModel):
    """A part whose dump always names its ``type``, the tag `Part` is read back by.

    ``type`` has a default, so a dump with ``exclude_defaults=True`` (what the session
    codec and the cache store) would drop it, and the part could not be read back (a
    reasoning part with only ``text`` would even read back as a text part).
    """

    type: str

    @model_serializer(mode="wrap")
    def _with_type(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict) and "type" not in dumped:
            return {"type": self.type, **dumped}
        return dumped


class TextPart(_Tagged):
    """Text, as one part among others.

    Attributes:
        text: The text.
        signature: An opaque provider signature attached to this text (Gemini's
            ``thought_signature`` on a text part), sent back with it unchanged.
    """

    model_config = _PART

    type: Literal["text"] = "text"
    text: str
    signature: str | None = None


class _MediaPart(_Tagged):
    """What image, audio and document parts share: bytes or a URL, and a media type."""

    model_config = _PART

    data: bytes | None = Field(default=None, repr=False)
    url: str | None = None
    media_type: str | None = None

    _family: ClassVar[str] = ""
    _kind: ClassVar[str] = "media"

    @field_validator("data", mode="before")
    @classmethod
    def _base64_text(cls, value: object) -> object:
        if isinstance(value, str):  # JSON carries bytes as base64; raw bytes are bytes
            try:
                if "-" in value or "_" in value:
                    return base64.urlsafe_b64decode(value)
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as error:
                raise ValueError(
                    f"data given as text must be base64 ({error}); pass raw bytes as bytes"
                ) from None
        return value

    @field_serializer("data", when_used="json")
    def _dump_base64(self, data: bytes | None) -> str | None:
        return base64.b64encode(data).decode("ascii") if data is not None else None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.data is None) == (self.url is None):
            raise ValueError(
                f"{type(self).__name__} needs exactly one of data=... (bytes) or url=...; "
                f"or build it with {type(self).__name__}.from_path(...)"
            )
        if self.url is not None and self.url.startswith("data:"):
            data, media_type = _data_url(self.url, self.media_type)
            object.__setattr__(self, "data", data)
            object.__setattr__(self, "url", None)
            object.__setattr__(self, "media_type", media_type)
        media_type = self.media_type
        if media_type is not None:
            media_type = normalise(media_type)
        if self.data is not None:
            sniffed = sniff_media_type(self.data)
            if media_type is None:
                media_type = sniffed
            elif sniffed is not None and sniffed != media_type:
                raise ValueError(
                    f"{type(self).__name__}: media_type={media_type!r} but the bytes are "
                    f"{sniffed}; give media_type={sniffed!r} (or leave it out to use what "
                    f"the bytes say)"
                )
            if media_type is None:
                raise ValueError(
                    f"{type(self).__name__}: the media type of these bytes is not "
                    f"recognisable; give media_type=... (for example "
                    f"{self._example_type()!r})"
                )
        elif media_type is None and self.url is not None:
            media_type = guess_media_type(self.url.split("?", 1)[0])
        if media_type is not None:
            self._check_family(media_type)
        object.__setattr__(self, "media_type", media_type)
        return self

    @classmethod
    def _example_type(cls) -> str:
        return {"image": "image/png", "audio": "audio/wav"}.get(cls._family, "text/plain")

    def _check_family(self, media_type: str) -> None:
        family = media_type.split("/", 1)[0]
        if self._family and family != self._family:
            raise ValueError(
                f"{type(self).__name__} takes {self._family}/* media, not {media_type!r}; "
                f"use {_part_class_for(media_type).__name__} for it"
            )
        if not self._family and family in ("image", "audio"):
            raise ValueError(
                f"DocumentPart takes documents, text and video, not {media_type!r}; "
                f"use {_part_class_for(media_type).__name__} for it"
            )

    @property
    def size(self) -> int | None:
        """How many bytes ``data`` holds (``None`` for a URL)."""
        return len(self.data) if self.data is not None else None

    def sha256(self) -> str | None:
        """The SHA-256 of ``data``, in hex (``None`` for a URL).

        Computed once per part object (the cache key and the audit log ask for it on
        every request that carries the part).
        """
        if self.data is None:
            return None
        digest = _DIGESTS.get(self)
        if digest is None:
            digest = _DIGESTS[self] = hashlib.sha256(self.data).hexdigest()
        return digest

    def base64(self) -> str:
        """``data`` as base64 text (what most wires carry).

        Raises:
            ValueError: If the part is a URL.
        """
        if self.data is None:
            raise ValueError(f"this {type(self).__name__} is a URL, it has no bytes")
        return base64.b64encode(self.data).decode("ascii")

    def __repr_args__(self) -> Any:
        yield from super().__repr_args__()
        if self.data is not None:
            yield "size", len(self.data)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None, **fields: Any) -> Self:
        """A part holding ``data``; the media type is read from the bytes if not given."""
        return cls(data=data, media_type=media_type, **fields)

    @classmethod
    def from_url(cls, url: str, media_type: str | None = None, **fields: Any) -> Self:
        """A part pointing at ``url`` (the provider fetches it, where it can)."""
        return cls(url=url, media_type=media_type, **fields)

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], media_type: str | None = None, **fields: Any
    ) -> Self:
        """A part holding the bytes of the file at ``path``.

        The media type is, in order: the one given, the one the bytes announce, the one
        the file name suggests.

        Raises:
            OSError: If the file cannot be read.
            ValueError: If the media type is unknown or not of this part's kind.
        """
        data = Path(path).read_bytes()
        if media_type is None and sniff_media_type(data) is None:
            media_type = guess_media_type(os.fspath(path))
        return cls(data=data, media_type=media_type, **fields)


_DIGESTS: weakref.WeakKeyDictionary[_MediaPart, str] = weakref.WeakKeyDictionary()
"""Each media part's digest, for as long as the part lives."""


class ImagePart(_MediaPart):
    """An image: ``ImagePart(data=png_bytes)``, ``ImagePart(url=...)`` or ``from_path``.

    Attributes:
        detail: OpenAI's image detail (``auto``, ``low``, ``high``); others ignore it.
    """

    _family: ClassVar[str] = "image"

    type: Literal["image"] = "image"
    detail: Literal["auto", "low", "high"] | None = None


class AudioPart(_MediaPart):
    """Audio: ``AudioPart(data=wav_bytes)`` or ``AudioPart.from_path("clip.mp3")``."""

    _family: ClassVar[str] = "audio"

    type: Literal["audio"] = "audio"


class DocumentPart(_MediaPart):
    """A document or file: PDF, plain text, or video where the provider takes it.

    Attributes:
        name: The file name shown to the model, where the provider takes one.
    """

    type: Literal["document"] = "document"
    name: str | None = None

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], media_type: str | None = None, **fields: Any
    ) -> Self:
        """A document holding the file at ``path``, named after it unless ``name`` is given."""
        fields.setdefault("name", Path(path).name)
        return super().from_path(path, media_type, **fields)


class ReasoningPart(_Tagged):
    """A model's reasoning, and the opaque state its provider needs back.

    Attributes:
        text: The reasoning text, or its summary (``""`` when the provider hides it).
        signature: The provider's opaque signature or encrypted reasoning payload
            (Anthropic's thinking ``signature`` or ``redacted_thinking`` data, Gemini's
            ``thought_signature``, OpenAI's ``encrypted_content``), sent back unchanged.
        redacted: Whether the provider redacted the reasoning (only ``signature`` holds it).
        provider: The provider it came from; other providers do not receive it.
        id: The provider's id for the reasoning item, where it has one (OpenAI).
    """

    model_config = _PART

    type: Literal["reasoning"] = "reasoning"
    text: str = ""
    signature: str | None = None
    redacted: bool = False
    provider: str | None = None
    id: str | None = None


class ProviderPart(_Tagged):
    """Provider-native content that only the provider it came from reads.

    A server-side tool call and its result (Anthropic's ``server_tool_use`` and
    ``web_search_tool_result`` blocks, OpenAI's ``web_search_call`` items): kept in the
    conversation so the same provider gets it back, never a tool call for Aether's tool
    loop, and left out of requests to any other provider.

    Attributes:
        provider: The provider it came from.
        kind: The vendor's own type name for it (``server_tool_use``...).
        data: The vendor's JSON for it, as received.
    """

    model_config = _PART

    type: Literal["provider"] = "provider"
    provider: str
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)


Part = Annotated[
    TextPart | ImagePart | AudioPart | DocumentPart | ReasoningPart | ProviderPart,
    Field(discriminator="type"),
]
"""One part of a message's content."""


def _part_class_for(media_type: str) -> type[ImagePart | AudioPart | DocumentPart]:
    family = normalise(media_type).split("/", 1)[0]
    if family == "image":
        return ImagePart
    return AudioPart if family == "audio" else DocumentPart


def _data_url(url: str, declared: str | None) -> tuple[bytes, str | None]:
    header, _, payload = url.partition(",")
    if not header.endswith(";base64"):
        raise ValueError("a data: URL must be base64-encoded (data:<type>;base64,<data>)")
    media_type = header[5:-7] or declared
    try:
        return base64.b64decode(payload, validate=True), media_type
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the data: URL holds invalid base64 ({error})") from None


def part_from_path(
    path: str | os.PathLike[str], media_type: str | None = None
) -> ImagePart | AudioPart | DocumentPart:
    """An image, audio or document part for the file at ``path``, chosen by media type.

    Raises:
        OSError: If the file cannot be read.
        ValueError: If its media type cannot be told (give ``media_type=``).
    """
    data = Path(path).read_bytes()
    media_type = media_type or sniff_media_type(data) or guess_media_type(os.fspath(path))
    if media_type is None:
        raise ValueError(
            f"the media type of {os.fspath(path)!r} cannot be told from its bytes or name; "
            f"give media_type=..."
        )
    cls = _part_class_for(media_type)
    if cls is DocumentPart:
        return DocumentPart(data=data, media_type=media_type, name=Path(path).name)
    return cls(data=data, media_type=media_type)
