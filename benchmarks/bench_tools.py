"""The tool loop's own cost: per iteration with a no-op tool, and as a pass-through."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aether import LLMRequest, Message, Pipeline
from aether.llm.contracts import LLMResponse, StreamChunk, Tool, ToolCall
from aether.llm.streaming import final_chunk
from aether.middleware.tool_loop import ToolLoopMiddleware
from aether.tools import dispatch_tool, tool_from_function
from benchmarks._harness import BACKENDS, Row, cli, measure

TITLE = "Tools: the tool loop's overhead"
NOTES = """
`Pipeline([ToolLoopMiddleware()], model)` with a prebuilt request, where `model` is a
minimal provider returning prebuilt responses (so only the loop is measured): a call to
the no-op tool `noop(x: int)`, then, once it sees the tool result, a text answer; in
streams, one text chunk and a final chunk each. "loop overhead per iteration" is the
time of one logical request with one tool round (two model calls and one dispatch) minus
two bare model calls through an empty pipeline: what the loop itself adds for each extra
iteration (building the conversation, validating the arguments, running the tool,
events off). "no tools" rows are the loop as a pass-through on a request without tools,
minus the same request through an empty pipeline. `dispatch_tool` rows are one
dispatch of the no-op tool on its own; a sync tool runs in a worker thread, holding one
of the tools' 32 slots until its thread ends (so timed-out tools cannot pile up past
the cap). That slot costs about 5 µs a sync dispatch: an A/B in one session, the best of
six alternating runs of 2,000 sequential dispatches (wall time), measured 53 µs on
asyncio and 62 µs on trio before, 58 and 67 µs with it.
"""


async def async_noop(x: int) -> int:
    return x


def sync_noop(x: int) -> int:
    return x


CALL = ToolCall(id="c1", name="noop", arguments={"x": 1})
ASKS = LLMResponse(
    text="Checking.", model="fake-model", tool_calls=(CALL,), finish_reason="tool_calls"
)
SAYS = LLMResponse(text="Done.", model="fake-model")


STREAMS = {
    id(response): (StreamChunk(text=response.text), final_chunk(response))
    for response in (ASKS, SAYS)
}


class ScriptedModel:
    """Answers with a tool call, then (once it sees the tool result) with text."""

    name = "scripted"

    def __init__(self, *, tools: bool) -> None:
        self.tools = tools

    def _respond(self, request: LLMRequest) -> LLMResponse:
        if self.tools and request.messages[-1].role != "tool":
            return ASKS
        return SAYS

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return self._respond(request)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        for chunk in STREAMS[id(self._respond(request))]:
            yield chunk


def run(quick: bool) -> list[Row]:
    calls = 1_000 if quick else 10_000
    streams = 500 if quick else 5_000
    threads = 200 if quick else 2_000
    prompt = (Message(role="user", content="hi"),)
    plain = LLMRequest(messages=prompt, model="fake-model")
    rows: list[Row] = []
    for backend in BACKENDS:
        bare = Pipeline([], ScriptedModel(tools=False))
        loop_only = Pipeline([ToolLoopMiddleware()], ScriptedModel(tools=False))

        async def bare_call(n: int, pipeline: Pipeline = bare) -> None:
            for _ in range(n):
                await pipeline.complete(plain)

        async def bare_stream(n: int, pipeline: Pipeline = bare) -> None:
            for _ in range(n):
                async for _chunk in pipeline.stream(plain):
                    pass

        async def passthrough_call(n: int, pipeline: Pipeline = loop_only) -> None:
            for _ in range(n):
                await pipeline.complete(plain)

        async def passthrough_stream(n: int, pipeline: Pipeline = loop_only) -> None:
            for _ in range(n):
                async for _chunk in pipeline.stream(plain):
                    pass

        t_bare_call = measure(bare_call, iterations=calls, backend=backend)
        t_bare_stream = measure(bare_stream, iterations=streams, backend=backend)
        rows += [
            Row(
                "no tools: loop pass-through, call",
                backend,
                measure(passthrough_call, iterations=calls, backend=backend) - t_bare_call,
                "s",
            ),
            Row(
                "no tools: loop pass-through, stream",
                backend,
                measure(passthrough_stream, iterations=streams, backend=backend) - t_bare_stream,
                "s",
                "per stream of 1 text chunk + final",
            ),
        ]
        for label, function, count in (
            ("async no-op tool", async_noop, calls),
            ("sync no-op tool", sync_noop, threads),
        ):
            tool = tool_from_function(function, name="noop")
            request = LLMRequest(messages=prompt, model="fake-model", tools=(tool,))
            looped = Pipeline([ToolLoopMiddleware()], ScriptedModel(tools=True))

            async def loop_call(n: int, p: Pipeline = looped, r: LLMRequest = request) -> None:
                for _ in range(n):
                    await p.complete(r)

            async def loop_stream(n: int, p: Pipeline = looped, r: LLMRequest = request) -> None:
                for _ in range(n):
                    async for _chunk in p.stream(r):
                        pass

            async def dispatch(n: int, t: Tool = tool) -> None:
                for _ in range(n):
                    await dispatch_tool(CALL, tools=[t])

            t_call = measure(loop_call, iterations=count, backend=backend)
            t_stream = measure(loop_stream, iterations=max(count // 2, 100), backend=backend)
            rows += [
                Row(
                    f"loop overhead per iteration, call, {label}",
                    backend,
                    t_call - 2 * t_bare_call,
                    "s",
                    f"logical call: {t_call * 1e6:.1f} µs",
                ),
                Row(
                    f"loop overhead per iteration, stream, {label}",
                    backend,
                    t_stream - 2 * t_bare_stream,
                    "s",
                    f"logical stream: {t_stream * 1e6:.1f} µs",
                ),
                Row(
                    f"dispatch_tool, {label}",
                    backend,
                    measure(dispatch, iterations=count, backend=backend),
                    "s",
                ),
            ]
    return rows


if __name__ == "__main__":
    cli(run)
