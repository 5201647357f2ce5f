"""One round of the tool loop: dispatching a response's calls, and summing iterations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from aether.events import (
    TOOL_COMPLETE,
    TOOL_ERROR,
    TOOL_START,
    EventBus,
    ToolComplete,
    ToolErrorEvent,
    ToolStart,
)
from aether.llm.contracts import (
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    TokenCounts,
    Tool,
    ToolCall,
    ToolResult,
)
from aether.tools._dispatch import DispatchOutcome, run_tool_call

__all__ = [
    "TOOL_WRAPPERS",
    "ToolWrapper",
    "Totals",
    "dispatch_calls",
    "hands_back",
    "tool_messages",
    "with_ids",
]

TOOL_WRAPPERS = "aether.tool_wrappers"
"""The request-context key of the wrappers around each tool dispatch (a tuple).

A middleware outside the tool loop adds a `ToolWrapper` here (``context[TOOL_WRAPPERS] =
(*context.get(TOOL_WRAPPERS, ()), wrapper)``); the loop then runs every tool call of that
logical request through it, the first added outermost. Parallel calls each go through it
in their own task.
"""

ToolWrapper = Callable[
    [LLMRequest, ToolCall, Callable[[], Awaitable[DispatchOutcome]]], Awaitable[DispatchOutcome]
]
"""``async def wrapper(request, call, dispatch) -> DispatchOutcome``: awaits ``dispatch()``.

``dispatch()`` runs the tool (failures included as content, never raised, except
cancellation) and returns its `DispatchOutcome` (``result``, ``error``,
``duration_seconds``); the wrapper returns it, or another outcome in its place.
"""


@dataclass(slots=True)
class Totals:
    """Token counts and cost summed over the iterations of one logical request.

    The cost is known only if every iteration's cost is known; otherwise it is ``None``
    (unknown), never a partial sum.
    """

    tokens: TokenCounts = field(default_factory=TokenCounts)
    cost_usd: float | None = 0.0

    def _add_cost(self, cost: float | None) -> None:
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost

    def add(self, response: LLMResponse) -> None:
        """Count one iteration's response."""
        self.tokens = self.tokens + response.tokens
        self._add_cost(response.cost_usd)

    def add_final(self, chunk: StreamChunk) -> None:
        """Count one iteration's final stream chunk."""
        if chunk.tokens is not None:
            self.tokens = self.tokens + chunk.tokens
        self._add_cost(chunk.cost_usd)

    def fields(self) -> dict[str, Any]:
        """The sums, as the update for a response or final chunk."""
        return {"tokens": self.tokens, "cost_usd": self.cost_usd}


def _wrapped(
    wrapper: ToolWrapper,
    request: LLMRequest,
    call: ToolCall,
    dispatch: Callable[[], Awaitable[DispatchOutcome]],
) -> Callable[[], Awaitable[DispatchOutcome]]:
    return lambda: wrapper(request, call, dispatch)


def with_ids(calls: tuple[ToolCall, ...], iteration: int) -> tuple[ToolCall, ...]:
    """``calls``, each with an id: a call the model sent without one gets ``call_{i}_{n}``.

    A tool result answers its call by id, and providers refuse a tool turn without one,
    so a model's id-less call would otherwise fail the next iteration's request.
    """
    if all(call.id for call in calls):
        return calls
    return tuple(
        call if call.id else call.model_copy(update={"id": f"call_{iteration}_{index}"})
        for index, call in enumerate(calls)
    )


def hands_back(calls: Sequence[ToolCall], tools: Mapping[str, Tool]) -> bool:
    """Whether a call names a tool the caller gave without a handler (theirs to run)."""
    for call in calls:
        tool = tools.get(call.name)
        if tool is not None and tool.handler is None:
            return True
    return False


def tool_messages(results: Sequence[ToolResult]) -> list[Message]:
    """The ``tool`` turns that answer each call, in call order."""
    return [
        Message(role="tool", content=result.content, tool_call_id=result.call_id, name=result.name)
        for result in results
    ]


async def dispatch_calls(
    bus: EventBus | None,
    request: LLMRequest,
    calls: Sequence[ToolCall],
    tools: Mapping[str, Tool],
    *,
    tool_timeout: float | None,
) -> list[ToolResult]:
    """Run ``calls`` concurrently and return their results in call order.

    tool.start fires for every call, in call order, before any runs; tool.complete or
    tool.error fires for each as it finishes.
    """
    available = list(tools)
    if bus is not None and bus.wants(TOOL_START):
        for call in calls:
            await bus.emit(ToolStart(request=request, call=call))
    results: list[ToolResult | None] = [None] * len(calls)
    wrappers: tuple[ToolWrapper, ...] = request.context.get(TOOL_WRAPPERS, ())

    async def run(index: int, call: ToolCall) -> None:
        def dispatch() -> Awaitable[DispatchOutcome]:
            return run_tool_call(
                call, tools.get(call.name), available=available, tool_timeout=tool_timeout
            )

        step: Callable[[], Awaitable[DispatchOutcome]] = dispatch
        for wrapper in reversed(wrappers):
            step = _wrapped(wrapper, request, call, step)
        outcome = await step()
        results[index] = outcome.result
        if bus is None:
            return
        if outcome.error is None:
            if bus.wants(TOOL_COMPLETE):
                await bus.emit(
                    ToolComplete(
                        request=request,
                        call=call,
                        result=outcome.result,
                        duration_seconds=outcome.duration_seconds,
                    )
                )
        elif bus.wants(TOOL_ERROR):
            await bus.emit(
                ToolErrorEvent(
                    request=request,
                    call=call,
                    error=outcome.error,
                    result=outcome.result,
                    duration_seconds=outcome.duration_seconds,
                )
            )

    if len(calls) == 1:
        await run(0, calls[0])
    else:
        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(run, index, call)
    return [result for result in results if result is not None]
