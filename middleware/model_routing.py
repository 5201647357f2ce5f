"""Model routing: a cheaper model for short prompts, a stronger one for the rest.

A request transform, so it runs in both modes through `aether.pipeline.on_request`::

    from aether.pipeline import on_request
    from middleware.model_routing import ModelRouter

    router = ModelRouter(cheap_model="gpt-4o-mini", strong_model="gpt-4o")
    client = Aether(middleware=[on_request(router)])

"Short" is measured in characters of the whole conversation (system prompt and history
included), since that is what the model must read and what the call costs; a
conversation of at most ``max_cheap_characters`` goes to the cheap model. An image, audio
or document part counts as four characters per token of Aether's estimate for it
(`aether.memory.approximate_content_tokens`; an image is 1,600 tokens, so 6,400
characters): under the default limit, a conversation with an image goes to the strong
model, which is usually the one that reads images well. The choice is
written to ``request.context["model_route"]`` (``"cheap"`` or ``"strong"``) for the
layers inside and for your logs. A call that must keep the model it names passes
``context={"pin_model": True}``.

Placed in ``Aether(middleware=[...])`` it sits outside the tool loop, so a logical call
keeps one model for all its tool iterations; below the tool loop it would decide again
at every iteration, as the conversation grows.
"""

from __future__ import annotations

from typing import Literal

from aether.llm.contracts import LLMRequest, Message
from aether.memory import approximate_content_tokens

__all__ = ["ModelRouter"]


class ModelRouter:
    """Picks ``cheap_model`` for short conversations and ``strong_model`` for long ones.

    Args:
        cheap_model: The model for conversations of at most ``max_cheap_characters``.
        strong_model: The model for everything longer.
        max_cheap_characters: The longest conversation, in characters of message text,
            that still goes to the cheap model.
    """

    name = "ModelRouter"

    __slots__ = ("cheap_model", "max_cheap_characters", "strong_model")

    def __init__(
        self, *, cheap_model: str, strong_model: str, max_cheap_characters: int = 2_000
    ) -> None:
        if max_cheap_characters < 0:
            raise ValueError("max_cheap_characters must be zero or more")
        self.cheap_model = cheap_model
        self.strong_model = strong_model
        self.max_cheap_characters = max_cheap_characters

    def route(self, request: LLMRequest) -> Literal["cheap", "strong"]:
        """``"cheap"`` for a conversation of at most ``max_cheap_characters``, else ``"strong"``."""
        characters = sum(map(_characters, request.messages))
        return "cheap" if characters <= self.max_cheap_characters else "strong"

    def __call__(self, request: LLMRequest) -> LLMRequest:
        if request.context.get("pin_model"):
            return request
        route = self.route(request)
        request.context["model_route"] = route
        model = self.cheap_model if route == "cheap" else self.strong_model
        if model == request.model:
            return request
        return request.model_copy(update={"model": model})

    def __repr__(self) -> str:
        return (
            f"ModelRouter(cheap_model={self.cheap_model!r}, strong_model={self.strong_model!r}, "
            f"max_cheap_characters={self.max_cheap_characters})"
        )


def _characters(message: Message) -> int:
    """The message's text, and four characters per estimated token of each media part."""
    content = message.content
    if isinstance(content, str):
        return len(content)
    media = tuple(part for part in content if part.type not in ("text", "reasoning"))
    return len(message.text) + 4 * approximate_content_tokens(media)
