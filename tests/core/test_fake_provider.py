"""The Fake provider: canned, scripted, computed answers, faults, chunking, records."""

from __future__ import annotations

import pytest

from aether import (
    Aether,
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    RateLimitError,
    ReasoningPart,
    ServerError,
    TextPart,
    TokenCounts,
    ToolCall,
)
from aether.extensions.llm.fake import FakeProvider, FakeScriptExhaustedError, StreamFault


def request(text: str = "hi") -> LLMRequest:
    return LLMRequest(messages=(Message(role="user", content=text),))


async def test_default_reply_is_deterministic_and_quotes_the_prompt() -> None:
    fake = FakeProvider()
    first = await fake.complete(request("hello there"))
    second = await fake.complete(request("hello there"))
    assert first == second
    assert "'hello there'" in first.text


async def test_script_plays_in_order_then_says_it_is_used_up() -> None:
    fake = FakeProvider(responses=["one", "two"])
    assert (await fake.complete(request())).text == "one"
    assert (await fake.complete(request())).text == "two"
    with pytest.raises(FakeScriptExhaustedError, match="used up after 2 responses"):
        await fake.complete(request())


async def test_scripted_exception_is_raised() -> None:
    fake = FakeProvider(responses=[RateLimitError("slow down", retry_after=2.0), "ok"])
    with pytest.raises(RateLimitError) as raised:
        await fake.complete(request())
    assert raised.value.retry_after == 2.0
    assert (await fake.complete(request())).text == "ok"


async def test_responder_computes_the_answer_from_the_request() -> None:
    async def echo(request: LLMRequest) -> str:
        return request.messages[-1].content.upper()

    fake = FakeProvider(responder=echo)
    assert (await fake.complete(request("abc"))).text == "ABC"


async def test_token_counts_are_words_when_not_scripted() -> None:
    response = await FakeProvider("three short words").complete(request("two words"))
    assert (response.input_tokens, response.output_tokens) == (2, 3)
    assert response.provider == "fake"


async def test_stream_splits_text_into_chunks_that_join_back() -> None:
    fake = FakeProvider("a longer answer with six words", words_per_chunk=2)
    chunks = [chunk async for chunk in fake.stream(request())]
    assert [chunk.text for chunk in chunks[:-1]] == ["a longer ", "answer with ", "six words"]
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].output_tokens == 6


async def test_stream_of_a_tool_call_ends_with_the_calls() -> None:
    call = ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})
    scripted = LLMResponse(
        text="Let me add.", model="m", tool_calls=(call,), finish_reason="tool_calls"
    )
    chunks = [chunk async for chunk in FakeProvider(responses=[scripted]).stream(request())]
    assert "".join(chunk.text for chunk in chunks) == "Let me add."
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].tool_calls == (call,)


async def test_stream_fault_breaks_after_the_given_chunks() -> None:
    fake = FakeProvider(responses=[StreamFault(ServerError("cut"), after_chunks=2, text="a b c")])
    seen: list[str] = []
    with pytest.raises(ServerError):
        async for chunk in fake.stream(request()):
            seen.append(chunk.text)
    assert seen == ["a ", "b "]


async def test_stream_fault_is_raised_at_once_in_call_mode() -> None:
    fake = FakeProvider(responses=[StreamFault(ServerError("cut"), after_chunks=2)])
    with pytest.raises(ServerError):
        await fake.complete(request())


async def test_requests_are_recorded_in_order() -> None:
    fake = FakeProvider("ok")
    client = Aether(fake)
    await client.ask("first")
    async for _ in client.stream("second"):
        pass
    assert [r.messages[-1].content for r in fake.requests] == ["first", "second"]


async def test_abandoned_stream_is_closed() -> None:
    fake = FakeProvider("one two three four")
    client = Aether(fake)
    stream = client.stream_text("hi")
    async for _ in stream:
        break
    await stream.aclose()
    assert fake.open_streams == 0


async def test_unscripted_fake_runs_the_spec_tool_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aether import register_tool

    @register_tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    monkeypatch.setenv("LLM_PROVIDER", "fake")
    client = Aether()
    assert await client.ask("What is 17 + 25?", tools=["add"]) == "The add tool returned 42."
    deltas = [delta async for delta in client.stream_text("What's 17+25?", tools=["add"])]
    assert "".join(deltas) == "Let me use add.The add tool returned 42."


async def test_unscripted_fake_does_not_call_tools_with_tool_choice_none() -> None:
    from aether import Tool

    fake = FakeProvider()
    tool = Tool(name="noop", parameters={"type": "object", "properties": {}})
    req = LLMRequest(
        messages=(Message(role="user", content="hi"),), tools=(tool,), tool_choice="none"
    )
    response = await fake.complete(req)
    assert response.tool_calls == ()


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(1_004)
PDF = b"%PDF-1.7\n" + bytes(6_391)


async def test_unscripted_answer_describes_the_parts_it_received() -> None:
    prompt = Message(
        role="user",
        content=[
            "What is in these?",
            ImagePart(data=PNG),
            DocumentPart(data=PDF, name="q3.pdf"),
            ImagePart(url="https://example.com/cat.jpg"),
        ],
    )
    response = await FakeProvider().complete(LLMRequest(messages=(prompt,)))
    assert response.text == (
        "This is Aether's fake provider answering 'What is in these?'. It received an image "
        "(image/png, 72 bytes), a document 'q3.pdf' (application/pdf, 6,400 bytes) and an "
        "image (image/jpeg, from https://example.com/cat.jpg). Set LLM_PROVIDER and an API "
        "key to talk to a real model."
    )


async def test_token_counts_count_media_parts_by_kind() -> None:
    prompt = Message(
        role="user",
        content=["two words", ImagePart(data=PNG), AudioPart(data=WAV), DocumentPart(data=PDF)],
    )
    response = await FakeProvider("ok").complete(LLMRequest(messages=(prompt,)))
    # words, 1,600 for the image, a token per 500 bytes of audio, per 64 of a PDF
    assert response.tokens == TokenCounts(
        input=2 + 1_600 + 3 + 100, input_image=1_600, input_audio=3, output=1
    )


async def test_a_scripted_answer_with_reasoning_streams_reasoning_chunks() -> None:
    thought = ReasoningPart(text="Two and two make four.", signature="c2ln", provider="anthropic")
    answer = LLMResponse(
        text="Four.", model="m", parts=(thought, TextPart(text="Four.")), finish_reason="stop"
    )
    fake = FakeProvider(responses=[answer], words_per_chunk=3)
    chunks = [chunk async for chunk in fake.stream(request("2+2?"))]
    assert [(chunk.kind, chunk.reasoning or chunk.text) for chunk in chunks[:-1]] == [
        ("reasoning", "Two and two "),
        ("reasoning", "make four."),
        ("text", "Four."),
    ]
    assert chunks[-1].parts == answer.parts
    response = await Aether(FakeProvider(responses=[answer])).complete("2+2?")
    assert (response.reasoning, response.text) == ("Two and two make four.", "Four.")


async def test_the_client_takes_a_list_of_parts_and_strings_as_one_user_turn() -> None:
    fake = FakeProvider()
    answer = await Aether(fake).ask(["What is this?", ImagePart(data=PNG)])
    assert fake.last_request.messages == (
        Message(role="user", content=(TextPart(text="What is this?"), ImagePart(data=PNG))),
    )
    assert "It received an image (image/png, 72 bytes)." in answer
