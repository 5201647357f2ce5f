"""Tokenizer-free estimates of what content costs in tokens: text and media parts.

No provider publishes a tokenizer for images, audio or documents, and their counts
depend on what the bytes hold (an image's pixels, a clip's duration, a PDF's pages), which
Aether does not decode. The figures here are deliberately on the high side, for budgets
and history windows that must not overflow a context window:

- text (and reasoning text): a token per four characters;
- an image: 1,600 tokens, bytes or URL (Anthropic's count for a 1092 × 1092 image, near
  the most any provider charges for one image at its default size);
- audio: a token per 500 bytes (Gemini's 32 tokens a second at 128 kbit/s MP3;
  uncompressed WAV is overcounted);
- a text document: a token per four bytes; a video: a token per 1,000 bytes; a PDF or
  another document: a token per 64 bytes;
- a media part given by URL: 1,600 tokens, whatever its kind;
- a provider-native part: a token per four characters of its JSON.
"""

from __future__ import annotations

import json
import math

from aether.llm.content import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
)

__all__ = ["IMAGE_TOKENS", "content_tokens", "media_tokens"]

IMAGE_TOKENS = 1_600
"""What one image (or a media part given by URL) is estimated to cost."""

_BYTES_PER_TOKEN = {"audio": 500, "text": 4, "video": 1_000}
_OTHER_DOCUMENT_BYTES_PER_TOKEN = 64


def media_tokens(part: Part) -> int:
    """The estimate for a part that is not text (``0`` for text and reasoning parts)."""
    if isinstance(part, ImagePart):
        return IMAGE_TOKENS
    if isinstance(part, AudioPart | DocumentPart):
        if part.data is None:
            return IMAGE_TOKENS
        family = (part.media_type or "").split("/", 1)[0]
        per_token = _BYTES_PER_TOKEN.get(family, _OTHER_DOCUMENT_BYTES_PER_TOKEN)
        return math.ceil(len(part.data) / per_token)
    if isinstance(part, ProviderPart):
        return math.ceil(len(json.dumps(part.data, default=str)) / 4)
    return 0


def content_tokens(content: str | tuple[Part, ...]) -> int:
    """The estimate for a message's content: its text, then each part that is not text."""
    if isinstance(content, str):
        return math.ceil(len(content) / 4)
    characters = 0
    media = 0
    for part in content:
        if isinstance(part, TextPart | ReasoningPart):
            characters += len(part.text)
        else:
            media += media_tokens(part)
    return math.ceil(characters / 4) + media
