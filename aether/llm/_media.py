"""Media types: guessed from a file's first bytes or its name, and checked against a part.

Providers refuse an image whose bytes do not match the media type sent with it (Anthropic
answers 400), so a part built with a wrong type fails here, naming both types, instead of
on the wire. Only well-known signatures are recognised; bytes that match none are taken
at their declared type.
"""

from __future__ import annotations

import mimetypes

__all__ = ["guess_media_type", "sniff_media_type"]

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
)

_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FTYP = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
    b"M4A ": "audio/mp4",
    b"qt  ": "video/quicktime",
}

# Names mimetypes misses or gets wrong on some systems.
_EXTENSIONS = {
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".md": "text/markdown",
    ".webm": "video/webm",
}

_EQUIVALENT = {
    "image/jpg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/x-m4a": "audio/mp4",
}


def normalise(media_type: str) -> str:
    """``media_type`` lower-cased, parameters dropped, aliases folded (``image/jpg``)."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return _EQUIVALENT.get(bare, bare)


def sniff_media_type(data: bytes) -> str | None:
    """The media type that ``data``'s first bytes announce, or ``None`` if unknown."""
    head = bytes(data[:16])
    for prefix, media_type in _PREFIXES:
        if head.startswith(prefix):
            return media_type
    if head.startswith(b"RIFF") and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "video/mp4")
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def guess_media_type(name: str) -> str | None:
    """The media type a file name's extension suggests, or ``None``."""
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot >= 0 else ""
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return normalise(guessed) if guessed else None
