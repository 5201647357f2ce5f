"""The pieces of `aether.middleware.structured_output`: attempts, re-asks, errors, options.

Kept apart so the middleware's module holds its call and stream paths only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from aether.errors import ConfigurationError, OutputRefusedError, OutputValidationError, ToolError
from aether.llm._output_answers import InvalidOutput, as_error_tuple, error_lines
from aether.llm.contracts import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    OutputSchema,
    StreamChunk,
    TokenCounts,
    ToolCall,
)
from aether.middleware._tool_rounds import tool_messages

__all__ = [
    "DEFAULT_OUTPUT_RETRIES",
    "OUTPUT_RETRIES",
    "OutputAttempt",
    "StreamTurns",
    "attempt",
    "failure",
    "feedback",
    "output_schema_for",
    "reask",
    "refused",
    "structured_answer",
    "unwrapped",
]

OUTPUT_RETRIES = "aether.output_retries"
"""The request-context key of a call's ``output_retries`` (set by ``output_retries=``)."""

DEFAULT_OUTPUT_RETRIES = 2
"""Re-asks after the first invalid answer, by default: three attempts in all."""


class OutputAttempt(BaseModel):
    """One answer that failed validation, as `OutputValidationError.attempts` keeps it.

    Attributes:
        text: The answer's raw text.
        errors: Its validation errors (``loc``, ``msg``, ``type``, ``input``).
        finish_reason: Why the model stopped.
        model: The model that answered.
        tokens: What the attempt billed (``None`` if the provider did not say).
        cost_usd: Its price, when cost tracking knows it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    errors: tuple[dict[str, Any], ...]
    finish_reason: FinishReason | None = None
    model: str | None = None
    tokens: TokenCounts | None = None
    cost_usd: float | None = None


_OUTPUT_OPTIONS = ("output_mode", "output_retries")


def output_schema_for(
    output_type: Any, options: Mapping[str, Any], context: dict[str, Any]
) -> OutputSchema | None:
    """The `OutputSchema` for a call's ``output_type=`` and options (``None`` without one).

    ``output_retries`` goes into ``context`` under `OUTPUT_RETRIES`.

    Raises:
        ConfigurationError: If ``output_mode`` or ``output_retries`` come without a type,
            or are invalid, or the type has no JSON Schema.
    """
    if output_type is None:
        given = [name for name in _OUTPUT_OPTIONS if name in options]
        if given:
            raise ConfigurationError(
                f"{' and '.join(given)} apply to structured output only: give output_type= "
                f"too, or leave them out"
            )
        return None
    if "output_retries" in options:
        retries = options["output_retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(
                f"output_retries takes a whole number, 0 or more, not {retries!r}"
            )
        context[OUTPUT_RETRIES] = retries
    return OutputSchema.of(output_type, mode=options.get("output_mode", "auto"))


def structured_answer(response: LLMResponse[Any]) -> Any:
    """The validated answer of a structured response (what ``ask`` returns).

    Raises:
        ToolError: If the response hands tool calls back instead of an answer.
    """
    if response.output is None and response.tool_calls:
        names = ", ".join(call.name for call in response.tool_calls)
        raise ToolError(
            f"the model called tools you run yourself ({names}) instead of answering: use "
            f"complete(...) to read response.tool_calls, run them, and send the results back"
        )
    return response.output


def feedback(errors: list[dict[str, Any]]) -> Message:
    if any(item.get("type") == "json_invalid" for item in errors):
        opening = "Your answer is not valid JSON:"
    else:
        opening = "Your answer does not match the required JSON Schema:"
    lines = "\n".join(f"- {line}" for line in error_lines(errors))
    return Message(
        role="user",
        content=f"{opening}\n{lines}\nAnswer again, with the corrected JSON only.",
    )


def reask(request: LLMRequest, turns: list[Message]) -> LLMRequest:
    update: dict[str, Any] = {"messages": (*request.messages, *turns)}
    if request.tool_choice not in (None, "auto", "none"):
        update["tool_choice"] = "auto"  # a forced first tool call was made already
    return request.model_copy(update=update)


def refused(schema: OutputSchema, text: str, *, provider: str | None, response: Any) -> Exception:
    said = f": {text[:300]!r}" if text else ""
    return OutputRefusedError(
        f"the model refused to give the {schema.name} answer{said}. This is not a "
        f"validation failure, so it was not asked again; rephrase the request if it "
        f"should be answerable.",
        refusal=text,
        response=response,
        provider=provider,
    )


def failure(schema: OutputSchema, attempts: list[OutputAttempt], *, cut: bool) -> Exception:
    last = attempts[-1]
    lines = "; ".join(error_lines(list(last.errors), limit=5))
    if cut:
        reason = (
            "the answer was cut off at max_tokens before it was complete (not asked again: "
            "it would be cut again); raise max_tokens"
        )
    else:
        count = len(attempts)
        reason = (
            f"{count} answer{'s' if count > 1 else ''} failed validation; raise "
            f"output_retries=, or simplify the type"
        )
    return OutputValidationError(
        f"no valid {schema.name} answer: {reason}. The last one: {lines}. Its text, "
        f"errors and every attempt are on this error (.text, .errors, .attempts).",
        text=last.text,
        errors=last.errors,
        attempts=tuple(attempts),
    )


def unwrapped(value: dict[str, Any] | None, wrapper: str | None) -> Any:
    if wrapper is None or value is None:
        return value
    return value.get(wrapper)


class StreamTurns:
    """The tool turns a logical stream went through, rebuilt from its tool chunks."""

    __slots__ = ("calls", "texts", "turns")

    def __init__(self) -> None:
        self.turns: list[Message] = []
        self.calls: list[ToolCall] = []
        self.texts: list[str] = []

    def call(self, call: ToolCall) -> None:
        self.calls.append(call)

    def result(self, chunk: StreamChunk) -> None:
        if self.calls:
            self.turns.append(
                Message(role="assistant", content="".join(self.texts), tool_calls=tuple(self.calls))
            )
            self.calls = []
        if chunk.tool_result is not None:
            self.turns.extend(tool_messages([chunk.tool_result]))
        self.texts.clear()


def attempt(text: str, invalid: InvalidOutput, answer: LLMResponse | StreamChunk) -> OutputAttempt:
    return OutputAttempt(
        text=text,
        errors=as_error_tuple(invalid.errors),
        finish_reason=answer.finish_reason,
        model=answer.model,
        tokens=answer.tokens,
        cost_usd=answer.cost_usd,
    )
