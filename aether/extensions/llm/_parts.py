"""What every adapter does with content parts and reasoning, whatever its wire.

- A part a wire cannot carry fails before anything is sent, with a `BadRequestError`
  naming the provider, the part and what to do instead (`unsupported`): never dropped.
- Reasoning and provider-native parts go back only to the provider they came from
  (`belongs_to`): a signature is bound to its provider, and another model's thoughts are
  not part of the conversation.
- An effort level becomes a token budget through one table (`REASONING_BUDGETS`), for
  the wires that take budgets.
- `PartsBuilder` assembles a streamed answer's ordered parts from its deltas.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from aether.errors import BadRequestError
from aether.llm.contracts import (
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
)

__all__ = [
    "REASONING_BUDGETS",
    "PartsBuilder",
    "answer_parts",
    "belongs_to",
    "describe",
    "model_family",
    "refused",
    "signature_bytes",
    "signature_text",
    "text_of_document",
    "unsupported",
]

REASONING_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
"""Thinking tokens per effort level, on the wires that take a budget (Anthropic's manual
extended thinking, Gemini 2.5). ``minimal`` is Anthropic's smallest budget."""


def describe(part: Part) -> str:
    """A part as an error message names it: kind, media type, and bytes or URL."""
    media_type = getattr(part, "media_type", None)
    details = [media_type] if media_type else []
    size = getattr(part, "size", None)
    if size is not None:
        details.append(f"{size} bytes")
    elif getattr(part, "url", None) is not None:
        details.append("a URL")
    if isinstance(part, ProviderPart):
        details.append(f"{part.provider} {part.kind}")
    suffix = f" ({', '.join(details)})" if details else ""
    return f"{type(part).__name__}{suffix}"


def unsupported(provider: str, part: Part, *, role: str, fix: str) -> BadRequestError:
    """The error for ``part`` in a ``role`` message, which ``provider``'s wire cannot carry."""
    return BadRequestError(
        f"{provider} cannot take {describe(part)} in {role} messages; {fix}. Nothing was sent.",
        provider=provider,
    )


def refused(provider: str, message: str) -> BadRequestError:
    """The error for a request option ``provider``'s model cannot take (nothing sent)."""
    return BadRequestError(f"{message}. Nothing was sent.", provider=provider)


def model_family(name: str, families: tuple[tuple[str, tuple[str, ...]], ...], default: str) -> str:
    """The first family whose name prefixes ``name`` starts with, else ``default``."""
    for family, prefixes in families:
        if name.startswith(prefixes):
            return family
    return default


def belongs_to(part: ReasoningPart | ProviderPart, provider: str) -> bool:
    """Whether ``part`` came from ``provider`` (the only one it is sent back to)."""
    return part.provider == provider


def signature_bytes(signature: str, *, provider: str) -> bytes:
    """The bytes of a signature held as base64 text (Gemini's ``thought_signature``).

    Raises:
        BadRequestError: If the text is not base64 (a signature edited by hand).
    """
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"a {provider} signature in the conversation is not base64 ({signature[:16]!r}...): "
            f"send signatures back exactly as they were received. Nothing was sent.",
            provider=provider,
        ) from None


def signature_text(signature: object) -> str | None:
    """A signature as base64 text: bytes are encoded, a non-empty string kept."""
    if isinstance(signature, bytes):
        return base64.b64encode(signature).decode("ascii") if signature else None
    return signature if isinstance(signature, str) and signature else None


def text_of_document(data: bytes, *, provider: str, name: str | None) -> str:
    """A text document's bytes as text (UTF-8).

    Raises:
        BadRequestError: If the bytes are not UTF-8.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError(
            f"{provider} takes text documents as text, and the document "
            f"{name or ''!s} is not UTF-8; decode it yourself and send a TextPart. "
            f"Nothing was sent.",
            provider=provider,
        ) from None


def answer_parts(parts: list[Part] | tuple[Part, ...]) -> tuple[Part, ...]:
    """``parts`` as `LLMResponse.parts` holds them: ``()`` when they are plain text."""
    for part in parts:
        if not isinstance(part, TextPart) or part.signature is not None:
            return tuple(parts)
    return ()


@dataclass(slots=True)
class _Piece:
    kind: str  # "text" or "reasoning"
    texts: list[str] = field(default_factory=list)
    signature: str | None = None
    redacted: bool = False


class PartsBuilder:
    """The ordered parts of a streamed answer, built from its deltas.

    Consecutive deltas of one kind join into one part. A delta that carries a signature
    is a part of its own, never merged with another (Gemini's rule for its signatures),
    and `close` ends the open part. Whole parts (media, provider-native blocks) are added
    in place with `add`.
    """

    __slots__ = ("_items", "_open", "provider")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._items: list[_Piece | Part] = []
        self._open: _Piece | None = None

    def open(self, kind: str, *, redacted: bool = False) -> _Piece:
        """Start a new text or reasoning part and return it, for deltas by reference."""
        piece = _Piece(kind, redacted=redacted)
        self._items.append(piece)
        self._open = piece
        return piece

    def delta(self, kind: str, text: str, signature: str | None = None) -> None:
        """Add ``text`` to the open part of ``kind``, or to a new one (always, if signed)."""
        piece = self._open
        if signature is not None or piece is None or piece.kind != kind:
            piece = self.open(kind)
        if text:
            piece.texts.append(text)
        if signature is not None:
            piece.signature = signature
            self._open = None

    def add(self, part: Part) -> None:
        """Add a whole part; the next delta starts a new part."""
        self._items.append(part)
        self._open = None

    def close(self) -> None:
        """End the open part: the next delta starts a new one."""
        self._open = None

    def __bool__(self) -> bool:
        return bool(self._items)

    def parts(self) -> tuple[Part, ...]:
        """Every part, in order, as `LLMResponse.parts` holds them (``()`` for plain text)."""
        built: list[Part] = []
        for item in self._items:
            if not isinstance(item, _Piece):
                built.append(item)
            elif item.kind == "reasoning":
                built.append(
                    ReasoningPart(
                        text="".join(item.texts),
                        signature=item.signature,
                        redacted=item.redacted,
                        provider=self.provider,
                    )
                )
            elif item.texts or item.signature:
                built.append(TextPart(text="".join(item.texts), signature=item.signature))
        return answer_parts(built)
