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

from collections.abc import AsyncIterator, Awaitable
from typing import Any

from aether.errors import ConfigurationError
from aether.llm._output_answers import InvalidOutput, validate_output
from aether.llm._partial_json import PartialJSON
from aether.llm.contracts import LLMRequest, LLMResponse, Message, OutputSchema, StreamChunk
from aether.llm.streaming import aclose_stream, hold_final
from aether.middleware._structured_attempts import (
    DEFAULT_OUTPUT_RETRIES,
    OUTPUT_RETRIES,
    OutputAttempt,
    StreamTurns,
    attempt,
    failure,
    feedback,
    output_schema_for,
    reask,
    refused,
    structured_answer,
    unwrapped,
)
from aether.middleware._tool_rounds import Totals
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "DEFAULT_OUTPUT_RETRIES",
    "OUTPUT_RETRIES",
    "OutputAttempt",
    "StructuredOutputMiddleware",
    "output_schema_for",
    "structured_answer",
]


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
                raise refused(schema, response.text, provider=response.provider, response=response)
            try:
                update["output"] = validate_output(schema, response.text)
            except InvalidOutput as invalid:
                attempts.append(attempt(response.text, invalid, response))
                if response.finish_reason == "length" or number == retries:
                    raise failure(
                        schema, attempts, cut=response.finish_reason == "length"
                    ) from None
                turns = [response.message, feedback(invalid.errors)]
                internal.extend(turns)
                sent = reask(sent, [*response.tool_messages, *turns])
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
            tools = StreamTurns()
            final: StreamChunk | None = None
            inner = call_next(sent)
            try:
                async for chunk in inner:
                    if chunk.finish_reason is not None:
                        text_chunk, final = hold_final(chunk)
                        if text_chunk is None:
                            continue
                        chunk = text_chunk
                    kind = chunk.kind
                    if kind == "text":
                        text = chunk.text
                        if text:
                            tools.texts.append(text)
                            if parser.feed(text):
                                partial = unwrapped(parser.value, wrapper)
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
                raise refused(schema, text, provider=final.provider, response=None)
            try:
                value = validate_output(schema, text)
            except InvalidOutput as invalid:
                attempts.append(attempt(text, invalid, final))
                if final.finish_reason == "length" or number == retries:
                    raise failure(schema, attempts, cut=final.finish_reason == "length") from None
                answer = Message(role="assistant", content=final.parts or text)
                turns = [*tools.turns, answer, feedback(invalid.errors)]
                sent = reask(sent, turns)
                yield StreamChunk(kind="output_retry")
                continue
            update: dict[str, Any] = {"output": value}
            if number:
                update.update(totals.fields())
            yield final.model_copy(update=update)
            return

    def __repr__(self) -> str:
        return f"StructuredOutputMiddleware(retries={self.retries!r})"
