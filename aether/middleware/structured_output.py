"""Structured output: answers validated against ``output_type``, re-asked, streamed as partials.

::

    invoice = await client.ask("Bill Ada for 3 widgets", output_type=Invoice)
    async for chunk in client.stream("...", output_type=Invoice):
        render(chunk.partial)            # the object so far; chunk.output on the last

The request carries an `OutputSchema` (`LLMRequest.output`); the adapter below asks its
vendor for JSON in the mode it picks (see `aether.llm.output`). This layer reads the
answer's text with the type's validator. An invalid answer goes back to the model with
the validation errors (the re-ask), up to ``output_retries`` times (2 by default, per
call ``output_retries=``); after the last, `OutputValidationError` carries the text,
the errors and every attempt. A refusal (OpenAI's ``refusal``, a content filter's stop)
raises `OutputRefusedError` at once, and an answer cut by ``max_tokens`` raises
`OutputValidationError` at once: asking again would be cut again, and billed again.

Where it sits, and why: outermost of the built-ins (inside telemetry's span for the
logical request)::

    [Telemetry] → StructuredOutput → ToolLoop → [Cache] → CostTracking → CircuitBreaker
        → Retry → Events → provider

- A re-ask re-enters everything below, so each attempt is billed and counted (cost
  tracking), evented (``request.*``), retried on transport errors (retry) and guarded by
  the breaker like any call. Retry never sees a validation failure (it sits below, and
  `OutputValidationError` is not retryable), so a re-ask is never mistaken for a retry
  nor multiplied by one.
- The tool loop runs inside each attempt: the model uses its tools, then answers, and
  only that final answer is validated. A re-ask goes back with the whole conversation
  (the tool turns, the invalid answer, the errors), so the model may use tools again.
- The response cache sits below and stores raw answers per model call, its key holding
  the output schema; a hit comes back through this layer and is validated like a fresh
  answer (a cached stream replays with its partial objects).

Streams: every text chunk carries ``partial``, the JSON value parsed so far (see
`aether.llm._partial_json`: incremental, a chunk costs time in proportion to its own
length); the final chunk carries ``output``. Before a re-ask an ``output_retry`` chunk is
yielded and the text and partials start again. A request without ``output`` passes
straight through: no extra coroutine, no extra generator layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from aether.errors import (
    ConfigurationError,
    OutputRefusedError,
    OutputValidationError,
    ToolError,
)
from aether.llm._output_types import InvalidOutput, as_error_tuple, error_lines, validate_output
from aether.llm._partial_json import PartialJSON
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
from aether.llm.streaming import aclose_stream
from aether.middleware._tool_rounds import Totals, tool_messages
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "DEFAULT_OUTPUT_RETRIES",
    "OUTPUT_RETRIES",
    "OutputAttempt",
    "StructuredOutputMiddleware",
    "output_schema_for",
    "structured_answer",
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


def _feedback(errors: list[dict[str, Any]]) -> Message:
    if any(item.get("type") == "json_invalid" for item in errors):
        opening = "Your answer is not valid JSON:"
    else:
        opening = "Your answer does not match the required JSON Schema:"
    lines = "\n".join(f"- {line}" for line in error_lines(errors))
    return Message(
        role="user",
        content=f"{opening}\n{lines}\nAnswer again, with the corrected JSON only.",
    )


def _reask(request: LLMRequest, turns: list[Message]) -> LLMRequest:
    update: dict[str, Any] = {"messages": (*request.messages, *turns)}
    if request.tool_choice not in (None, "auto", "none"):
        update["tool_choice"] = "auto"  # a forced first tool call was made already
    return request.model_copy(update=update)


def _refused(schema: OutputSchema, text: str, *, provider: str | None, response: Any) -> Exception:
    said = f": {text[:300]!r}" if text else ""
    return OutputRefusedError(
        f"the model refused to give the {schema.name} answer{said}. This is not a "
        f"validation failure, so it was not asked again; rephrase the request if it "
        f"should be answerable.",
        refusal=text,
        response=response,
        provider=provider,
    )


def _failure(schema: OutputSchema, attempts: list[OutputAttempt], *, cut: bool) -> Exception:
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


def _unwrapped(value: dict[str, Any] | None, wrapper: str | None) -> Any:
    if wrapper is None or value is None:
        return value
    return value.get(wrapper)


class _StreamTurns:
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


class StructuredOutputMiddleware:
    """Validates structured answers, re-asks on invalid ones, streams partial objects.

    Args:
        retries: Re-asks after an invalid answer when a call sets no ``output_retries``
            (2: three attempts in all).

    Raises:
        ConfigurationError: If ``retries`` is negative.
    """

    name = "StructuredOutput"

    __slots__ = ("retries",)

    def __init__(self, *, retries: int = DEFAULT_OUTPUT_RETRIES) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"retries must be a whole number, 0 or more, not {retries!r}")
        self.retries = retries

    def _retries(self, request: LLMRequest) -> int:
        retries = request.context.get(OUTPUT_RETRIES, self.retries)
        return retries if isinstance(retries, int) else self.retries

    # -- calls -------------------------------------------------------------------------

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Validate the answer to a structured request; pass any other straight through."""
        if request.output is None:
            return call_next(request)
        return self._call(request, request.output, call_next)

    async def _call(
        self, request: LLMRequest, schema: OutputSchema, call_next: CallNext
    ) -> LLMResponse:
        retries = self._retries(request)
        attempts: list[OutputAttempt] = []
        internal: list[Message] = []
        totals = Totals()
        sent = request
        for number in range(retries + 1):
            response = await call_next(sent)
            totals.add(response)
            internal.extend(response.tool_messages)
            update: dict[str, Any] = {"tool_messages": tuple(internal)}
            if number:
                update.update(totals.fields())
            if response.tool_calls:  # tools the caller runs: no answer yet to validate
                return response.model_copy(update=update) if number else response
            if response.finish_reason == "content_filter":
                raise _refused(schema, response.text, provider=response.provider, response=response)
            try:
                update["output"] = validate_output(schema, response.text)
            except InvalidOutput as invalid:
                attempts.append(_attempt(response.text, invalid, response))
                if response.finish_reason == "length" or number == retries:
                    raise _failure(
                        schema, attempts, cut=response.finish_reason == "length"
                    ) from None
                turns = [response.message, _feedback(invalid.errors)]
                internal.extend(turns)
                sent = _reask(sent, [*response.tool_messages, *turns])
                continue
            return response.model_copy(update=update)
        raise AssertionError("unreachable: the loop returns or raises on its last attempt")

    # -- streams -----------------------------------------------------------------------

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Stream a structured answer with partial objects; pass any other straight through."""
        if request.output is None:
            return call_next(request)
        return self._stream(request, request.output, call_next)

    async def _stream(
        self, request: LLMRequest, schema: OutputSchema, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        retries = self._retries(request)
        attempts: list[OutputAttempt] = []
        totals = Totals()
        sent = request
        wrapper = schema.wrapper
        for number in range(retries + 1):
            parser = PartialJSON()
            partial: Any = None
            tools = _StreamTurns()
            final: StreamChunk | None = None
            inner = call_next(sent)
            try:
                async for chunk in inner:
                    if chunk.finish_reason is not None:
                        final = chunk
                        if not chunk.text:
                            continue
                        final = chunk.model_copy(update={"text": ""})
                        chunk = StreamChunk(text=chunk.text)
                    kind = chunk.kind
                    if kind == "text":
                        text = chunk.text
                        if text:
                            tools.texts.append(text)
                            if parser.feed(text):
                                partial = _unwrapped(parser.value, wrapper)
                            if partial is not None:
                                chunk = StreamChunk(text=text, partial=partial)
                    elif kind == "tool_call" and chunk.tool_call is not None:
                        tools.call(chunk.tool_call)
                    elif kind == "tool_result":
                        # Text before a tool call is not the answer: start afresh.
                        tools.result(chunk)
                        parser, partial = PartialJSON(), None
                    yield chunk
            finally:
                await aclose_stream(inner)
            if final is None:
                return
            totals.add_final(final)
            if final.tool_calls:  # tools the caller runs: no answer yet to validate
                yield final.model_copy(update=totals.fields()) if number else final
                return
            text = "".join(tools.texts)
            if final.finish_reason == "content_filter":
                raise _refused(schema, text, provider=final.provider, response=None)
            try:
                value = validate_output(schema, text)
            except InvalidOutput as invalid:
                attempts.append(_attempt(text, invalid, final))
                if final.finish_reason == "length" or number == retries:
                    raise _failure(schema, attempts, cut=final.finish_reason == "length") from None
                answer = Message(role="assistant", content=final.parts or text)
                turns = [*tools.turns, answer, _feedback(invalid.errors)]
                sent = _reask(sent, turns)
                yield StreamChunk(kind="output_retry")
                continue
            update: dict[str, Any] = {"output": value}
            if number:
                update.update(totals.fields())
            yield final.model_copy(update=update)
            return

    def __repr__(self) -> str:
        return f"StructuredOutputMiddleware(retries={self.retries!r})"


def _attempt(text: str, invalid: InvalidOutput, answer: LLMResponse | StreamChunk) -> OutputAttempt:
    return OutputAttempt(
        text=text,
        errors=as_error_tuple(invalid.errors),
        finish_reason=answer.finish_reason,
        model=answer.model,
        tokens=answer.tokens,
        cost_usd=answer.cost_usd,
    )
