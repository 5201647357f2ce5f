"""The tool loop's dispatch hook: wrappers listed in the request context run around each call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aether import Aether
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMRequest, LLMResponse, Tool, ToolCall, ToolResult
from aether.middleware.tool_loop import TOOL_WRAPPERS
from aether.pipeline import CallNext
from aether.tools import DispatchOutcome


async def test_wrappers_run_around_each_dispatch_first_added_outermost() -> None:
    seen: list[str] = []

    def wrapper(label: str):  # type: ignore[no-untyped-def]
        async def wrap(
            request: LLMRequest,
            call: ToolCall,
            dispatch: Callable[[], Awaitable[DispatchOutcome]],
        ) -> DispatchOutcome:
            seen.append(f"{label} before {call.name}")
            outcome = await dispatch()
            seen.append(f"{label} after {outcome.result.content}")
            if label == "inner":  # a wrapper may replace the outcome
                result = ToolResult(call_id=call.id, name=call.name, content="replaced")
                return DispatchOutcome(result, None, outcome.duration_seconds)
            return outcome

        return wrap

    async def install(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        request.context[TOOL_WRAPPERS] = (wrapper("outer"), wrapper("inner"))
        return await call_next(request)

    async def echo(arguments: dict[str, object]) -> str:
        seen.append("tool runs")
        return "echoed"

    fake = FakeProvider(
        responses=[
            LLMResponse(text="", model="m", tool_calls=(ToolCall(id="c1", name="echo"),)),
            LLMResponse(text="done", model="m"),
        ]
    )
    client = Aether(fake, middleware=[install])
    response = await client.complete("go", tools=[Tool(name="echo", handler=echo)])
    assert response.text == "done"
    assert seen == [
        "outer before echo",
        "inner before echo",
        "tool runs",
        "inner after echoed",
        "outer after replaced",
    ]
    assert fake.requests[1].messages[-1].content == "replaced"
