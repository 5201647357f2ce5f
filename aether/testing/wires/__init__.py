"""The built-in wire formats: OpenAI (chat completions and the Responses API),
Anthropic and Gemini, served through httpx2.

Importing this package imports httpx2 (which the vendor SDKs bring), never the SDKs:
each wire imports its adapter only when it builds a provider.
"""

from aether.testing.wires.anthropic import ANTHROPIC_WIRE, AnthropicWire
from aether.testing.wires.gemini import GEMINI_WIRE, GeminiWire
from aether.testing.wires.openai import OPENAI_WIRE, OpenAIWire
from aether.testing.wires.openai_responses import OPENAI_RESPONSES_WIRE, OpenAIResponsesWire
from aether.testing.wires.rendered import AnswerWire, RenderedAnswer, render_answer

__all__ = [
    "ANTHROPIC_WIRE",
    "BUILTIN_WIRES",
    "GEMINI_WIRE",
    "OPENAI_RESPONSES_WIRE",
    "OPENAI_WIRE",
    "AnswerWire",
    "AnthropicWire",
    "GeminiWire",
    "OpenAIResponsesWire",
    "OpenAIWire",
    "RenderedAnswer",
    "render_answer",
]

BUILTIN_WIRES = (OPENAI_WIRE, GEMINI_WIRE, ANTHROPIC_WIRE, OPENAI_RESPONSES_WIRE)
"""Every built-in wire format, for parametrising a suite over all of them."""
