"""Tools registered with ``@register_tool``, served by ``python -m aether mcp serve`` in tests."""

from __future__ import annotations

from aether import ImagePart, register_tool

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108020000009077"
    "53de0000000c4944415408d763f8ffff3f0005fe02fea7d6a4bd0000000049454e44ae426082"
)


@register_tool(description="Add two numbers")
def add(a: int, b: int) -> int:
    return a + b


@register_tool
async def shout(text: str) -> str:
    """Say it louder.

    Args:
        text: What to say.
    """
    return text.upper()


@register_tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@register_tool
def dot() -> ImagePart:
    """A one-pixel image."""
    return ImagePart(data=PNG)
