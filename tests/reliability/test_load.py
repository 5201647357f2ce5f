"""Load: thousands of concurrent calls and streams through the default stack, with no loss.

10 000 calls and 1 000 streams run at once on the Fake provider, mixing plain answers,
answers the tool loop needs a tool for, and answers that fail once and are retried.
Every call must complete with its own answer, ``client.usage`` must add up to the
token, and every event must fire exactly as often as the mix says.
"""

from __future__ import annotations

from collections import Counter
from contextlib import aclosing

import anyio
import pytest

from aether import Aether, LLMRequest, LLMResponse, ModelPricing, RetryPolicy
from aether.errors import ServerError
from aether.extensions.llm.fake import FakeProvider, Script
from aether.llm.contracts import ToolCall

from ._support import count_events, running_tasks

CALLS = 10_000
STREAMS = 1_000
# A dollar a token: every cost is a whole number, so the float totals are exact too.
PRICES = {"fake-model": ModelPricing(input_per_mtok=1e6, output_per_mtok=2e6)}
RETRY = RetryPolicy(attempts=2, base_delay=0.001, jitter=0)


async def lookup(key: int) -> int:
    """Look a number up (async: a sync tool would run in a worker thread).

    Args:
        key: The number.
    """
    return key * 2


class Model:
    """A scripted model: its answer depends on the prompt's number and on the kind of turn.

    Prompt ``n`` (``"question n"``) is answered with a tool call first when ``n % 10`` is
    0, fails once with a retryable error first when ``n % 10`` is 1, and is answered
    straight away otherwise. Every answer is ``"answer n ..."``: two words or
    more, 10 input tokens, 3 output tokens; a tool call costs 10 and 5.
    """

    def __init__(self, callers: int) -> None:
        self.callers = callers
        self.all_in = anyio.Event()
        self.in_flight = 0
        self.peak = 0
        self.seen: Counter[str] = Counter()

    async def __call__(self, request: LLMRequest) -> Script:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            # No first answer before every caller's request is in: all run at once.
            if self.in_flight == self.callers:
                self.all_in.set()
            await self.all_in.wait()
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: LLMRequest) -> Script:
        last = request.messages[-1]
        if last.role == "tool":
            return LLMResponse(
                text=f"answer {last.content} from the tool",
                model="fake-model",
                input_tokens=10,
                output_tokens=3,
            )
        number = int(last.content.split()[-1])
        self.seen[last.content] += 1
        if number % 10 == 1 and self.seen[last.content] == 1:
            return ServerError("overloaded, try again", provider="fake")
        if number % 10 == 0:
            call = ToolCall(id=f"call_{number}", name="lookup", arguments={"key": number})
            return LLMResponse(
                model="fake-model",
                tool_calls=(call,),
                finish_reason="tool_calls",
                input_tokens=10,
                output_tokens=5,
            )
        return LLMResponse(
            text=f"answer {number}", model="fake-model", input_tokens=10, output_tokens=3
        )


def expected_answer(number: int) -> str:
    if number % 10 == 0:
        return f"answer {number * 2} from the tool"
    return f"answer {number}"


def mix(count: int) -> Counter[str]:
    kinds = Counter(
        "tool" if n % 10 == 0 else "retried" if n % 10 == 1 else "plain" for n in range(count)
    )
    return kinds


def expected_usage(count: int) -> tuple[int, int, int, float]:
    kinds = mix(count)
    requests = kinds["plain"] + kinds["retried"] + 2 * kinds["tool"]
    output = 3 * (kinds["plain"] + kinds["retried"]) + (5 + 3) * kinds["tool"]
    return requests, 10 * requests, output, float(10 * requests + 2 * output)


def usage_of(client: Aether) -> tuple[int, int, int, float]:
    usage = client.usage
    return (
        usage.total_requests,
        usage.total_input_tokens,
        usage.total_output_tokens,
        usage.total_cost_usd,
    )


async def test_ten_thousand_concurrent_calls_all_complete_and_add_up() -> None:
    tasks_before = running_tasks()
    model = Model(CALLS)
    client = Aether(FakeProvider(responder=model), retry=RETRY, prices=PRICES)
    events = count_events(client)
    answers: dict[int, str] = {}

    async def ask(number: int) -> None:
        answers[number] = await client.ask(f"question {number}", tools=[lookup])

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for number in range(CALLS):
                group.start_soon(ask, number)

    assert answers == {number: expected_answer(number) for number in range(CALLS)}
    assert model.peak == CALLS
    assert usage_of(client) == expected_usage(CALLS)
    kinds = mix(CALLS)
    provider_calls = kinds["plain"] + 2 * kinds["retried"] + 2 * kinds["tool"]
    assert dict(events) == {
        "request.start": provider_calls,
        "request.complete": provider_calls - kinds["retried"],
        "request.error": kinds["retried"],
        "tool.start": kinds["tool"],
        "tool.complete": kinds["tool"],
    }
    assert running_tasks() == tasks_before


async def test_a_thousand_concurrent_streams_all_complete_and_add_up() -> None:
    tasks_before = running_tasks()
    model = Model(STREAMS)
    fake = FakeProvider(responder=model, chunk_delay=0.001)
    client = Aether(fake, retry=RETRY, prices=PRICES)
    events = count_events(client)
    texts: dict[int, str] = {}
    finals: Counter[str] = Counter()

    async def stream(number: int) -> None:
        parts: list[str] = []
        # Only the streams that need the tool get it, so both kinds of logical stream run.
        tools = [lookup] if number % 10 == 0 else []
        async with aclosing(client.stream(f"question {number}", tools=tools)) as chunks:
            async for chunk in chunks:
                if chunk.is_final:
                    finals[chunk.finish_reason or "none"] += 1
                elif chunk.kind == "text":
                    parts.append(chunk.text)
        texts[number] = "".join(parts)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for number in range(STREAMS):
                group.start_soon(stream, number)

    assert texts == {number: expected_answer(number) for number in range(STREAMS)}
    assert finals == {"stop": STREAMS}
    assert model.peak == STREAMS
    assert fake.open_streams == 0
    assert usage_of(client) == expected_usage(STREAMS)
    kinds = mix(STREAMS)
    # Words streamed: "answer n" is 2 chunks, "answer n from the tool" is 5.
    chunks = 2 * (kinds["plain"] + kinds["retried"]) + 5 * kinds["tool"]
    # One logical stream per caller (stream.*), one request per provider attempt
    # (request.*): a retried stream fails its first attempt, a tool stream makes two calls.
    attempts = STREAMS + kinds["retried"] + kinds["tool"]
    assert dict(events) == {
        "stream.start": STREAMS,
        "stream.chunk": chunks,
        "stream.complete": STREAMS,
        "request.start": attempts,
        "request.complete": attempts - kinds["retried"],
        "request.error": kinds["retried"],
        "tool.start": kinds["tool"],
        "tool.complete": kinds["tool"],
    }
    assert running_tasks() == tasks_before


async def test_concurrent_turns_on_many_sessions_keep_every_history_in_order() -> None:
    client = Aether(FakeProvider(responder=lambda request: f"re: {request.messages[-1].content}"))

    async def turn(session_id: str, number: int) -> None:
        await client.session(session_id).ask(f"turn {number}")

    async with anyio.create_task_group() as group:
        for session_number in range(100):
            for number in range(10):
                group.start_soon(turn, f"user-{session_number}", number)

    for session_number in range(100):
        history = await client.session(f"user-{session_number}").history()
        prompts = [message.content for message in history[0::2]]
        assert sorted(prompts) == [f"turn {number}" for number in range(10)]
        assert [message.content for message in history[1::2]] == [f"re: {p}" for p in prompts]
        assert [message.role for message in history] == ["user", "assistant"] * 10
        # Each turn saw every turn before it: the request carried the whole history.
    assert client.usage.total_requests == 1000


pytestmark = pytest.mark.anyio
