"""The PII redaction recipe: masked on the way in, un-masked on the way out, both modes."""

from __future__ import annotations

import re
from contextlib import aclosing

import anyio
import pytest

from aether import Aether, LLMRequest, LLMResponse, Message, StreamChunk, ToolCall, ToolResult
from aether.errors import ServerError
from aether.extensions.llm.fake import FakeProvider
from middleware.pii_redaction import (
    EMAIL_PATTERN,
    PHONE_PATTERN,
    PIIRedactionMiddleware,
    Redaction,
)

from ._doubles import ChunkedProvider

EMAIL = "alice@example.com"
PHONE = "+1 (555) 123-4567"
PROMPT = f"Email {EMAIL} or call {PHONE} about the order."
ANSWER = "I will email [EMAIL_1] and call [PHONE_1] today."
UNMASKED = f"I will email {EMAIL} and call {PHONE} today."


def client_for(provider: object) -> Aether:
    return Aether(provider, stack=[PIIRedactionMiddleware()])


async def stream_texts(client: Aether, prompt: str) -> list[str]:
    return [chunk.text async for chunk in client.stream(prompt) if chunk.text]


@pytest.mark.parametrize(
    "text",
    [
        "+1 (555) 123-4567",
        "555-123-4567",
        "(555) 123-4567",
        "+44 20 7946 0958",
        "+33 1 23 45 67 89",
        "020 7946 0958",
        "+447911123456",
    ],
)
def test_phone_pattern_matches_formatted_numbers(text: str) -> None:
    match = PHONE_PATTERN.search(f"call {text} now")
    assert match is not None
    assert match[0] == text


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15",
        "2024-01-15 10:30:00",
        "192.168.100.200",
        "version 1.2.3",
        "4111 1111 1111 1111",
        "order 12345678",
        "+12 3",
        "pi is 3.14159",
    ],
)
def test_phone_pattern_leaves_dates_addresses_and_bare_numbers(text: str) -> None:
    assert PHONE_PATTERN.search(f"see {text} here") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
        ("me@example.com.", "me@example.com"),
        ("root@localhost", None),
        ("x@y", None),
    ],
)
def test_email_pattern(text: str, expected: str | None) -> None:
    match = EMAIL_PATTERN.search(f"write to {text} please")
    assert (match[0] if match else None) == expected


async def test_call_sends_placeholders_not_values() -> None:
    fake = FakeProvider(ANSWER)
    await client_for(fake).ask(PROMPT)
    sent = fake.last_request.messages[0].content
    assert sent == "Email [EMAIL_1] or call [PHONE_1] about the order."


async def test_stream_sends_placeholders_not_values() -> None:
    fake = FakeProvider(ANSWER)
    await stream_texts(client_for(fake), PROMPT)
    assert fake.last_request.messages[0].content == (
        "Email [EMAIL_1] or call [PHONE_1] about the order."
    )


async def test_call_answer_gets_the_values_back() -> None:
    assert await client_for(FakeProvider(ANSWER)).ask(PROMPT) == UNMASKED


async def test_stream_answer_gets_the_values_back() -> None:
    texts = await stream_texts(client_for(FakeProvider(ANSWER, words_per_chunk=2)), PROMPT)
    assert "".join(texts) == UNMASKED


async def test_every_message_is_masked_and_a_repeated_value_keeps_its_placeholder() -> None:
    fake = FakeProvider("ok")
    convo = [
        Message(role="system", content="Support desk. Escalate to boss@corp.example.com."),
        Message(role="user", content=f"I am {EMAIL}."),
        Message(role="assistant", content="Noted."),
        Message(role="user", content=f"Again: {EMAIL}, and 555-123-4567."),
    ]
    await client_for(fake).ask(convo)
    assert [message.content for message in fake.last_request.messages] == [
        "Support desk. Escalate to [EMAIL_1].",
        "I am [EMAIL_2].",
        "Noted.",
        "Again: [EMAIL_2], and [PHONE_1].",
    ]


async def test_placeholder_written_by_the_caller_is_never_reused() -> None:
    fake = FakeProvider("[EMAIL_1] stays, [EMAIL_2] is yours")
    answer = await client_for(fake).ask(f"Literally [EMAIL_1]; mine is {EMAIL}")
    assert fake.last_request.messages[0].content == "Literally [EMAIL_1]; mine is [EMAIL_2]"
    assert answer == f"[EMAIL_1] stays, {EMAIL} is yours"


async def test_unknown_placeholder_in_the_answer_is_left_alone() -> None:
    answer = await client_for(FakeProvider("[EMAIL_1] and [EMAIL_7]")).ask(PROMPT)
    assert answer == f"{EMAIL} and [EMAIL_7]"


# A parametrized async test names `anyio_backend` itself: the anyio plugin re-creates
# unnamed ones per backend and would drop the `split` parameter.
@pytest.mark.parametrize("split", range(1, len(ANSWER)))
async def test_stream_placeholder_split_at_any_point_is_unmasked(
    split: int, anyio_backend: str
) -> None:
    provider = ChunkedProvider([ANSWER[:split], ANSWER[split:]])
    texts = await stream_texts(client_for(provider), PROMPT)
    assert "".join(texts) == UNMASKED
    assert not any("[EMAIL" in text or "[PHONE" in text for text in texts)


async def test_stream_of_single_characters_is_unmasked() -> None:
    texts = await stream_texts(client_for(ChunkedProvider(list(ANSWER))), PROMPT)
    assert "".join(texts) == UNMASKED


async def test_stream_holds_back_only_what_may_be_a_placeholder() -> None:
    provider = ChunkedProvider(["Hi [", "x] and [EM", "AIL_1] ok", " [P", "Q] end"])
    texts = await stream_texts(client_for(provider), PROMPT)
    assert texts == ["Hi ", "[x] and ", f"{EMAIL} ok", " ", "[PQ] end"]


async def test_partial_placeholder_at_the_end_of_a_stream_is_released_as_text() -> None:
    texts = await stream_texts(client_for(ChunkedProvider(["Bye [EMAIL_"])), PROMPT)
    assert texts == ["Bye ", "[EMAIL_"]


async def test_stream_without_pii_passes_the_chunks_through_untouched() -> None:
    provider = ChunkedProvider(["Hello ", "[EMAIL_1] ", "world"])
    chunks = [chunk async for chunk in client_for(provider).stream("no personal data here")]
    assert len(chunks) == len(provider.yielded)
    assert all(ours is theirs for ours, theirs in zip(chunks, provider.yielded, strict=True))


async def test_stream_error_propagates_and_nothing_is_yielded_after_it() -> None:
    provider = ChunkedProvider(["Writing to [EMA"], error=ServerError("boom"))
    texts: list[str] = []
    with pytest.raises(ServerError):
        async for chunk in client_for(provider).stream(PROMPT):
            texts.append(chunk.text)
    assert texts == ["Writing to "]
    assert provider.open_streams == 0


async def test_stream_stopped_early_closes_the_provider_stream() -> None:
    fake = FakeProvider(ANSWER)
    async with aclosing(client_for(fake).stream(PROMPT)) as stream:
        async for _chunk in stream:
            break
    assert fake.open_streams == 0


async def test_tool_call_arguments_are_masked_and_unmasked_in_calls() -> None:
    provider = ChunkedProvider(
        ["Sending."], tool_calls=[ToolCall(id="c2", name="send", arguments={"to": "[EMAIL_1]"})]
    )
    convo = [
        Message(role="user", content="Mail my friend."),
        Message(
            role="assistant",
            tool_calls=(ToolCall(id="c1", name="lookup", arguments={"who": [EMAIL]}),),
        ),
        Message(role="tool", content=f"Found {EMAIL}", tool_call_id="c1", name="lookup"),
    ]
    response = await client_for(provider).complete(convo)
    sent = provider.requests[0].messages
    assert sent[1].tool_calls[0].arguments == {"who": ["[EMAIL_1]"]}
    assert sent[2].content == "Found [EMAIL_1]"
    assert response.tool_calls[0].arguments == {"to": EMAIL}


async def test_final_chunk_tool_calls_are_unmasked_in_streams() -> None:
    provider = ChunkedProvider(
        ["Sending."], tool_calls=[ToolCall(id="c2", name="send", arguments={"to": "[EMAIL_1]"})]
    )
    chunks = [chunk async for chunk in client_for(provider).stream(PROMPT)]
    assert chunks[-1].is_final
    assert chunks[-1].tool_calls[0].arguments == {"to": EMAIL}
    assert chunks[-1].input_tokens == 3


async def test_tool_call_and_tool_result_chunks_are_unmasked() -> None:
    call = ToolCall(id="c1", name="send", arguments={"to": "[EMAIL_1]"})
    result = ToolResult(call_id="c1", name="send", content="sent to [EMAIL_1]")

    async def provider_stream(request: LLMRequest) -> object:
        del request
        yield StreamChunk(text="Let me [EM")
        yield StreamChunk(kind="tool_call", tool_call=call)
        yield StreamChunk(kind="tool_result", tool_result=result)
        yield StreamChunk(finish_reason="stop", model="m")

    class ToolStreamingProvider:
        async def complete(self, request: LLMRequest) -> LLMResponse:
            raise NotImplementedError

        stream = staticmethod(provider_stream)

    chunks = [chunk async for chunk in client_for(ToolStreamingProvider()).stream(PROMPT)]
    assert [chunk.kind for chunk in chunks] == ["text", "text", "tool_call", "tool_result", "text"]
    assert [chunk.text for chunk in chunks[:2]] == ["Let me ", "[EM"]
    assert chunks[2].tool_call is not None
    assert chunks[2].tool_call.arguments == {"to": EMAIL}
    assert chunks[3].tool_result is not None
    assert chunks[3].tool_result.content == f"sent to {EMAIL}"


async def test_concurrent_calls_keep_their_own_values() -> None:
    fake = FakeProvider(responder=lambda request: "Reply to [EMAIL_1].", delay=0.01)
    client = client_for(fake)
    answers: dict[str, str] = {}

    async def ask(address: str) -> None:
        answers[address] = await client.ask(f"I am {address}")

    async with anyio.create_task_group() as group:
        for address in ("ann@example.com", "bob@example.com", "cy@example.com"):
            group.start_soon(ask, address)
    assert answers == {
        address: f"Reply to {address}."
        for address in ("ann@example.com", "bob@example.com", "cy@example.com")
    }
    assert {request.messages[0].content for request in fake.requests} == {"I am [EMAIL_1]"}


async def test_custom_kind_is_masked_with_its_own_placeholder() -> None:
    fake = FakeProvider("Card [CARD_NUMBER_1] charged.")
    patterns = {"CARD_NUMBER": re.compile(r"\b(?:\d{4}[ -]){3}\d{4}\b")}
    client = Aether(fake, stack=[PIIRedactionMiddleware(patterns)])
    answer = await client.ask("Charge 4111 1111 1111 1111 now")
    assert fake.last_request.messages[0].content == "Charge [CARD_NUMBER_1] now"
    assert answer == "Card 4111 1111 1111 1111 charged."


def test_kind_that_cannot_appear_in_a_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="'card-number'"):
        PIIRedactionMiddleware({"card-number": re.compile("x")})


def test_overlapping_matches_keep_the_earliest_longest() -> None:
    request = LLMRequest(messages=(Message(role="user", content="x"),))
    patterns = {"A": re.compile("abcd"), "B": re.compile("bc"), "C": re.compile("cdef")}
    redaction = Redaction(request, patterns=patterns)
    assert redaction.mask("zabcdefz") == "z[A_1]efz"
