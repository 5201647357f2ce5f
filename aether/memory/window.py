"""What part of a long history a session sends: the system message, the newest turns, the
new prompt.

The stored history stays whole; only the request is trimmed. Trimming drops the oldest
messages first and always starts the kept part at a user message, so no provider sees a
conversation that opens with an orphaned assistant turn. The system message and the new
prompt are always sent, even when they alone exceed the token budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aether.config import number_problem
from aether.errors import ConfigurationError
from aether.llm._estimate import content_tokens
from aether.llm.contracts import Content, Message

__all__ = ["HistoryWindow", "approximate_content_tokens", "approximate_tokens"]

TokenCounter = Callable[[Message], int]

_MESSAGE_OVERHEAD = 4
"""Tokens a chat format spends on each message besides its text (role, separators)."""


def approximate_content_tokens(content: Content) -> int:
    """A tokenizer-free estimate of ``content``: a token per four characters of text, and
    a fixed or size-based estimate per media part (1,600 tokens an image).

    The figures, and why they err on the high side, are in docs/sessions.md.
    """
    return content_tokens(content)


def approximate_tokens(message: Message) -> int:
    """A tokenizer-free estimate of one message: its content, tool calls and overhead.

    A token per four characters of text is close to OpenAI's and Anthropic's tokenizers
    on English prose; media parts count as `approximate_content_tokens` says. Pass your
    own counter (``tiktoken``, say) to `HistoryWindow` for exact budgets.
    """
    tokens = content_tokens(message.content)
    if message.tool_calls:
        calls = "".join(call.name + str(call.arguments) for call in message.tool_calls)
        tokens += math.ceil(len(calls) / 4)
    return _MESSAGE_OVERHEAD + tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryWindow:
    """A cap on the history a session sends with each prompt.

    Attributes:
        max_messages: Send at most this many stored messages (besides the system
            message); ``None`` for no cap.
        max_tokens: Keep the whole request (system message, history, new prompt) within
            this many tokens by dropping the oldest turns; ``None`` for no cap.
        count_tokens: Counts one message's tokens; `approximate_tokens` by default.
    """

    max_messages: int | None = None
    max_tokens: int | None = None
    count_tokens: TokenCounter = approximate_tokens

    def __post_init__(self) -> None:
        checks = [
            self.max_messages is not None
            and number_problem("max_history_messages", self.max_messages, minimum=0, whole=True),
            self.max_tokens is not None
            and number_problem("max_history_tokens", self.max_tokens, minimum=1, whole=True),
        ]
        problems = [problem for problem in checks if problem]
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)

    @property
    def unlimited(self) -> bool:
        """Whether the whole history is sent."""
        return self.max_messages is None and self.max_tokens is None

    def select(self, history: Sequence[Message], *, fixed: Sequence[Message] = ()) -> list[Message]:
        """The newest part of ``history`` (system message excluded) that fits.

        Args:
            history: The stored messages other than the system message, oldest first.
            fixed: Messages always sent (the system message and the new prompt), whose
                tokens count against ``max_tokens``.
        """
        start = 0
        if self.max_messages is not None:
            start = max(0, len(history) - self.max_messages)
        if self.max_tokens is not None:
            count = self.count_tokens
            budget = self.max_tokens - sum(count(message) for message in fixed)
            kept = len(history)
            while kept > start and budget - count(history[kept - 1]) >= 0:
                kept -= 1
                budget -= count(history[kept])
            start = kept
        while start < len(history) and history[start].role != "user":
            start += 1
        return list(history[start:])
