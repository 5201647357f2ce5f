"""The spec's README examples, run as written with LLM_PROVIDER=fake."""

from __future__ import annotations

import pytest

from aether import Aether, Message
from aether.events import REQUEST_COMPLETE, TOOL_ERROR
from aether.extensions.llm.fake import FakeProvider
from aether.llm.contracts import LLMResponse, ToolCall


@pytest.fixture(autouse=True)
def _fake_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")


async def test_ask_example() -> None:
    client = Aether()
    answer = await client.ask("What is the meaning of life?")
    assert "What is the meaning of life?" in answer
    assert f"Spent ${client.usage.total_cost_usd:.6f}".startswith("Spent $0.")


async def test_stream_text_example() -> None:
    client = Aether()
    deltas = [delta async for delta in client.stream_text("Tell me a story")]
    assert len(deltas) > 1
    assert "".join(deltas) == await client.ask("Tell me a story")


async def test_rich_stream_example() -> None:
    client = Aether()
    chunks = [chunk async for chunk in client.stream("...")]
    assert all(chunk.finish_reason is None for chunk in chunks[:-1])
    assert all(chunk.output_tokens is None for chunk in chunks[:-1])
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.output_tokens == len("".join(chunk.text for chunk in chunks).split())


async def test_multi_turn_example_sends_the_whole_conversation() -> None:
    fake = FakeProvider(canned_response="more")
    client = Aether(fake)
    convo = [
        Message(role="system", content="You are terse."),
        Message(role="user", content="hi"),
        Message(role="assistant", content="hi"),
        Message(role="user", content="say more"),
    ]
    answer = await client.ask(convo)
    assert answer == "more"
    assert list(fake.last_request.messages) == convo


async def test_events_example() -> None:
    client = Aether()
    latencies: list[str] = []
    alerts: list[str] = []

    @client.on(REQUEST_COMPLETE)
    def log_latency(event: object) -> None:
        latencies.append(f"{event.request.model}: {event.duration_seconds:.2f}s")  # type: ignore[attr-defined]

    @client.on(TOOL_ERROR)
    async def alert(event: object) -> None:
        alerts.append(f"Tool {event.call.name} failed: {event.error}")  # type: ignore[attr-defined]

    await client.ask("hi")
    assert latencies == ["fake-model: 0.00s"]
    assert alerts == []


async def test_fake_provider_example() -> None:
    fake = FakeProvider(canned_response="hello")
    client = Aether(fake)
    assert await client.ask("hi") == "hello"


async def test_fake_provider_scripted_example_plays_in_order() -> None:
    fake = FakeProvider(
        responses=[
            LLMResponse(
                text="",
                model="...",
                input_tokens=1,
                output_tokens=1,
                tool_calls=[ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})],
            ),
            LLMResponse(text="The answer is 5.", model="...", input_tokens=1, output_tokens=1),
        ]
    )
    first = await fake.complete(Aether(fake).request("What is 2 + 3?"))
    second = await fake.complete(Aether(fake).request("What is 2 + 3?"))
    assert first.tool_calls[0].arguments == {"a": 2, "b": 3}
    assert second.text == "The answer is 5."
