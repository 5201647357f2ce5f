"""The tool loop: runs the tools a response asks for, then calls the chain again.

It is the outermost built-in layer of the default stack (tool loop → cost → breaker →
retry → events → provider), so every iteration is a full trip through the layers below
it: cost counts each iteration, retry retries each one, request.* events fire for each.

In a call, the loop returns the last response, with the token counts and cost of every
iteration summed and the internal turns (assistant tool calls and tool results) in
``tool_messages``; ``text`` is the final answer.

In a stream, the caller sees ONE logical stream: text as it comes (text before a tool
call included), a ``tool_call`` chunk per call, a ``tool_result`` chunk per result, the
next iteration's text, and one final chunk whose counts sum every iteration. The client
emits stream.start, stream.complete and stream.error once for that whole stream; the
loop emits tool.start, tool.complete and tool.error around each dispatch.

Each assistant turn goes back to the model whole: in a call from `LLMResponse.parts`,
in a stream from the final chunk's ``parts``, so reasoning and its signatures (which
Anthropic and Gemini require back with the tool results) stay in the conversation.

A ``tool_choice`` of ``"required"`` or a tool's name applies to the first model call
only; later iterations use ``"auto"``, so the model can answer once it has the results.
A call to a tool given without a handler (a schema-only `Tool`) ends the loop: the
response, with its ``tool_calls``, goes back to the caller to run them.

A request without tools passes straight through: no extra coroutine, no extra
generator layer.

Tool dispatch can be wrapped: a middleware outside the loop puts a `ToolWrapper` in
``request.context[TOOL_WRAPPERS]`` and each tool call of that request runs through it
(the telemetry middleware opens its ``execute_tool`` spans this way), in the call's own
task when calls run in parallel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Literal

from aether import config
from aether.errors import ConfigurationError, ToolLoopLimitError
from aether.events import (
    EventBus,
)
from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk, Tool, ToolCall
from aether.llm.streaming import aclose_stream, hold_final
from aether.middleware._tool_rounds import (
    TOOL_WRAPPERS,
    ToolWrapper,
    Totals,
    dispatch_calls,
    hands_back,
    tool_messages,
    with_ids,
)
from aether.pipeline import CallNext, StreamNext

__all__ = ["TOOL_WRAPPERS", "OnLimit", "ToolLoopMiddleware", "ToolWrapper"]

OnLimit = Literal["raise", "answer"]
"""What the loop does at its iteration cap: raise, or make the last call tool-less."""


class ToolLoopMiddleware:
    """Runs the LLM ↔ tool loop inside the middleware chain, for calls and streams.

    Args:
        events: The bus for the tool.* events, the only ones the loop emits (the client
            emits the logical stream's stream.* events); give it the same bus as the
            events middleware below, so one subscriber sees every event.
        max_iterations: Most model calls per logical request; by default
            ``AETHER_MAX_TOOL_ITERATIONS`` (10), read at each call.
        tool_timeout: Seconds a tool may run when it has no timeout of its own.
        on_limit: At the cap, ``"raise"`` fails with `ToolLoopLimitError` (the default)
            when the model still asks for tools; ``"answer"`` makes the last allowed
            call with ``tool_choice="none"`` so the model must answer in text, and
            raises only if it calls tools even then.
    """

    name = "ToolLoop"

    __slots__ = ("events", "max_iterations", "on_limit", "tool_timeout")

    def __init__(
        self,
        events: EventBus | None = None,
        *,
        max_iterations: int | None = None,
        tool_timeout: float | None = None,
        on_limit: OnLimit = "raise",
    ) -> None:
        if max_iterations is not None and max_iterations < 1:
            raise ConfigurationError(f"max_iterations must be at least 1, not {max_iterations}")
        if on_limit not in ("raise", "answer"):
            raise ConfigurationError(f"on_limit must be 'raise' or 'answer', not {on_limit!r}")
        self.events = events
        self.max_iterations = max_iterations
        self.tool_timeout = tool_timeout
        self.on_limit: OnLimit = on_limit

    # -- shared ------------------------------------------------------------------------

    def _iteration_request(
        self, request: LLMRequest, messages: list[Message], iteration: int, limit: int
    ) -> LLMRequest:
        update: dict[str, object] = {}
        if iteration > 1:
            update["messages"] = tuple(messages)
            if request.tool_choice not in (None, "auto", "none"):
                # "required" or one tool's name forces a call on the first turn only;
                # kept on every turn, the model could never answer.
                update["tool_choice"] = "auto"
        if self.on_limit == "answer" and iteration == limit:
            update["tool_choice"] = "none"
        return request.model_copy(update=update) if update else request

    @staticmethod
    def _limit_error(
        messages: Sequence[Message], iterations: int, calls: Sequence[ToolCall]
    ) -> ToolLoopLimitError:
        names = ", ".join(dict.fromkeys(call.name for call in calls))
        return ToolLoopLimitError(
            f"the tool loop made {iterations} model call{'s' if iterations > 1 else ''} and "
            f"the model still asks for tools ({names}); raise AETHER_MAX_TOOL_ITERATIONS "
            f"(or ToolLoopMiddleware(max_iterations=...)) if the task needs more rounds. "
            f"The conversation so far is in the error's .messages.",
            messages=tuple(messages),
            iterations=iterations,
        )

    # -- calls -------------------------------------------------------------------------

    def call(self, request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse]:
        """Run the loop for a call; pass a request without tools straight through."""
        if not request.tools:
            return call_next(request)
        return self._call_loop(request, call_next)

    async def _call_loop(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        tools: dict[str, Tool] = {tool.name: tool for tool in request.tools}
        limit = config.max_tool_iterations(self.max_iterations)
        messages = list(request.messages)
        internal: list[Message] = []
        totals = Totals()
        for iteration in range(1, limit + 1):
            sent = self._iteration_request(request, messages, iteration, limit)
            response = await call_next(sent)
            totals.add(response)
            calls = response.tool_calls
            if not calls or hands_back(calls, tools):
                if iteration == 1:
                    return response
                return response.model_copy(
                    update={**totals.fields(), "tool_messages": tuple(internal)}
                )
            calls = with_ids(calls, iteration)
            # The whole turn goes back: reasoning and its signatures with the text.
            content = response.parts or response.text
            assistant = Message(role="assistant", content=content, tool_calls=calls)
            if iteration == limit:
                raise self._limit_error([*messages, assistant], limit, calls)
            results = await dispatch_calls(
                self.events, sent, calls, tools, tool_timeout=self.tool_timeout
            )
            turns = [assistant, *tool_messages(results)]
            messages.extend(turns)
            internal.extend(turns)
        raise AssertionError("unreachable: the loop returns or raises at its cap")

    # -- streams -----------------------------------------------------------------------

    def stream(self, request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        """Run the loop for a stream; pass a request without tools straight through."""
        if not request.tools:
            return call_next(request)
        return self._stream_loop(request, call_next)

    async def _stream_loop(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        tools: dict[str, Tool] = {tool.name: tool for tool in request.tools}
        limit = config.max_tool_iterations(self.max_iterations)
        messages = list(request.messages)
        totals = Totals()
        for iteration in range(1, limit + 1):
            parts: list[str] = []
            final: StreamChunk | None = None
            sent = self._iteration_request(request, messages, iteration, limit)
            inner = call_next(sent)
            try:
                async for chunk in inner:
                    if chunk.finish_reason is not None:
                        # A final chunk that carries text: pass the text on now, since
                        # this final chunk is held back until the logical stream ends.
                        text_chunk, final = hold_final(chunk)
                        if text_chunk is None:
                            continue
                        chunk = text_chunk
                    if chunk.kind == "text" and chunk.text:
                        parts.append(chunk.text)
                    yield chunk
            finally:
                await aclose_stream(inner)
            if final is None:
                return
            totals.add_final(final)
            calls = final.tool_calls
            if not calls or hands_back(calls, tools):
                if iteration > 1:
                    final = final.model_copy(update=totals.fields())
                yield final
                return
            calls = with_ids(calls, iteration)
            content = final.parts or "".join(parts)
            assistant = Message(role="assistant", content=content, tool_calls=calls)
            if iteration == limit:
                raise self._limit_error([*messages, assistant], limit, calls)
            for call in calls:
                yield StreamChunk(kind="tool_call", tool_call=call)
            results = await dispatch_calls(
                self.events, sent, calls, tools, tool_timeout=self.tool_timeout
            )
            for result in results:
                yield StreamChunk(kind="tool_result", tool_result=result)
            messages.extend([assistant, *tool_messages(results)])

    def __repr__(self) -> str:
        return (
            f"ToolLoopMiddleware(max_iterations={self.max_iterations!r}, "
            f"tool_timeout={self.tool_timeout!r}, on_limit={self.on_limit!r})"
        )
