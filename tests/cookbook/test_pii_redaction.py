"""The PII redaction recipe: masked on the way in, un-masked on the way out, both modes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing

import anyio
import pytest

from aether import (
    Aether,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    ReasoningPart,
    StreamChunk,
    TextPart,
    ToolCall,
    ToolResult,
)
from aether.errors import ServerError
from aether.extensions.llm.fake import FakeProvider
from aether.tools import ToolLike, tool_from_function
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


# -- with the tool loop inside (the README's placement: outermost) ---------------------

CAROL = "carol.smith@corp.example"
CAROL_PHONE = "+44 20 7946 0958"
CUSTOMER = f"carol: {CAROL}, {CAROL_PHONE}"


def tool_call(tool: str, **arguments: object) -> LLMResponse:
    return LLMResponse(
        text="",
        model="fake-model",
        finish_reason="tool_calls",
        tool_calls=(ToolCall(id="c1", name=tool, arguments=arguments),),
    )


def outermost(fake: FakeProvider) -> Aether:
    return Aether(fake, middleware=[PIIRedactionMiddleware()], with_retry=False)


async def answer_in(mode: str, client: Aether, prompt: str, tools: list[ToolLike]) -> str:
    if mode == "call":
        return await client.ask(prompt, tools=tools)
    return "".join([delta async for delta in client.stream_text(prompt, tools=tools)])


def everything_sent(fake: FakeProvider) -> str:
    return "\n".join(
        request.model_dump_json(include={"messages", "tools"}) for request in fake.requests
    )


@pytest.mark.parametrize("mode", ["call", "stream"])
async def test_tool_results_reach_the_provider_masked(mode: str, anyio_backend: str) -> None:
    async def lookup_customer(name: str) -> str:
        """Look a customer up."""
        return CUSTOMER

    fake = FakeProvider(responses=[tool_call("lookup_customer", name="carol"), "Mail [EMAIL_2]."])
    prompt = f"I am {EMAIL}. How do I reach carol?"
    answer = await answer_in(mode, outermost(fake), prompt, tools=[lookup_customer])
    assert fake.requests[1].messages[-1].content == "carol: [EMAIL_2], [PHONE_1]"
    sent = everything_sent(fake)
    assert [value for value in (EMAIL, CAROL, CAROL_PHONE) if value in sent] == []
    assert answer == f"Mail {CAROL}."


async def test_tools_get_the_real_values_and_the_caller_gets_unmasked_tool_turns() -> None:
    received: list[str] = []

    async def send_mail(to: str) -> str:
        """Send a mail."""
        received.append(to)
        return f"queued for {to}"

    fake = FakeProvider(responses=[tool_call("send_mail", to="[EMAIL_1]"), "Done."])
    response = await outermost(fake).complete(f"Mail {EMAIL}", tools=[send_mail])
    assert received == [EMAIL]
    assert fake.requests[1].messages[-1].content == "queued for [EMAIL_1]"
    assert [turn.content for turn in response.tool_messages] == ["", f"queued for {EMAIL}"]
    assert response.tool_messages[0].tool_calls[0].arguments == {"to": EMAIL}


async def test_stream_tool_chunks_carry_the_real_values() -> None:
    async def lookup_customer(name: str) -> str:
        """Look a customer up."""
        return CUSTOMER

    fake = FakeProvider(responses=[tool_call("lookup_customer", name="carol"), "Found."])
    chunks = [
        chunk async for chunk in outermost(fake).stream("Find carol", tools=[lookup_customer])
    ]
    [result] = [chunk.tool_result for chunk in chunks if chunk.tool_result is not None]
    assert result.content == CUSTOMER
    assert fake.requests[1].messages[-1].content == "carol: [EMAIL_1], [PHONE_1]"


@pytest.mark.parametrize("mode", ["call", "stream"])
async def test_placeholder_text_a_tool_returns_comes_back_literally(
    mode: str, anyio_backend: str
) -> None:
    async def ticket_owner() -> str:
        """Who owns the ticket."""
        return "owner is [EMAIL_1]"

    # The caller's address is [EMAIL_1]; the tool's literal "[EMAIL_1]" must not become it.
    fake = FakeProvider(responses=[tool_call("ticket_owner"), "The owner is [EMAIL_2]."])
    answer = await answer_in(mode, outermost(fake), f"I am {EMAIL}", tools=[ticket_owner])
    assert fake.requests[1].messages[-1].content == "owner is [EMAIL_2]"
    assert answer == "The owner is [EMAIL_1]."


async def test_placeholder_the_model_made_up_never_gets_a_later_value() -> None:
    received: list[str] = []

    async def lookup(who: str) -> str:
        """Look someone up."""
        received.append(who)
        return f"found {CAROL}"

    first = tool_call("lookup", who="[EMAIL_1]").model_copy(update={"text": "Checking [EMAIL_1]"})
    fake = FakeProvider(responses=[first, "Nobody is [EMAIL_1]; it is [EMAIL_2]."])
    response = await outermost(fake).complete("Who is it?", tools=[lookup])
    assert received == ["[EMAIL_1]"]  # never issued: the tool gets it as written
    assert fake.requests[1].messages[-1].content == "found [EMAIL_2]"
    assert response.text == f"Nobody is [EMAIL_1]; it is {CAROL}."
    assert response.tool_messages[0].content == "Checking [EMAIL_1]"


async def test_model_turn_gets_back_only_what_it_had_been_shown() -> None:
    async def lookup(who: str) -> str:
        """Look someone up."""
        return f"found {CAROL}"

    # The model writes [EMAIL_1] before any was issued; the tool result then issues it.
    first = tool_call("lookup", who="carol").model_copy(update={"text": "Maybe [EMAIL_1]?"})
    fake = FakeProvider(responses=[first, "It is [EMAIL_1]."])
    response = await outermost(fake).complete("Who is carol?", tools=[lookup])
    assert fake.requests[1].messages[-1].content == "found [EMAIL_1]"
    assert response.tool_messages[0].content == "Maybe [EMAIL_1]?"
    assert response.tool_messages[1].content == f"found {CAROL}"
    assert response.text == f"It is {CAROL}."


async def test_tool_error_message_is_masked_and_stays_an_error() -> None:
    async def lookup(who: str) -> str:
        """Look someone up."""
        raise LookupError(f"no account for {CAROL}")

    fake = FakeProvider(responses=[tool_call("lookup", who="carol"), "Sorry."])
    response = await outermost(fake).complete("Find carol", tools=[lookup])
    sent = fake.requests[1].messages[-1].content
    assert sent == "Error: tool 'lookup' raised LookupError: no account for [EMAIL_1]"
    assert response.tool_messages[1].content == sent.replace("[EMAIL_1]", CAROL)


async def test_a_tools_own_timeout_still_applies() -> None:
    async def slow() -> str:
        """Take a while."""
        await anyio.sleep(5)
        return "late"

    fake = FakeProvider(responses=[tool_call("slow"), "Gave up."])
    tool = tool_from_function(slow, timeout=0.05)
    with anyio.fail_after(2):
        await outermost(fake).ask(f"I am {EMAIL}", tools=[tool])
    assert "did not finish within 0.05 seconds" in fake.requests[1].messages[-1].content


async def test_tool_turns_the_caller_sends_are_masked() -> None:
    fake = FakeProvider("ok")
    convo = [
        Message(role="user", content="Mail carol."),
        Message(
            role="assistant",
            tool_calls=(ToolCall(id="c1", name="send", arguments={"to": CAROL}),),
        ),
        Message(role="tool", content=f"sent to {CAROL_PHONE}", tool_call_id="c1", name="send"),
    ]
    await outermost(fake).ask(convo)
    sent = fake.last_request.messages
    assert sent[1].tool_calls[0].arguments == {"to": "[EMAIL_1]"}
    assert sent[2].content == "sent to [PHONE_1]"


@pytest.mark.parametrize(
    "text",
    ["555.123.4567", "1-800-555-0199", "06 12 34 56 78", "06.12.34.56.78", "+44 20 7946 0958"],
)
def test_phone_pattern_matches_more_formats(text: str) -> None:
    match = PHONE_PATTERN.search(f"call {text} now")
    assert match is not None
    assert match[0] == text


@pytest.mark.parametrize("text", ["01.02.2024", "10.0.0.1", "1.800.55", "555.123.45678"])
def test_phone_pattern_leaves_dotted_dates_and_addresses(text: str) -> None:
    assert PHONE_PATTERN.search(f"see {text} here") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jörg@example.de", "jörg@example.de"),
        ("bob@bücher.de", "bob@bücher.de"),
        ("alice@example.com-thanks", "alice@example.com"),
        ("alice@xn--bcher-kva.de", "alice@xn--bcher-kva.de"),
        ("user@例え.jp", "user@例え.jp"),
    ],
)
def test_email_pattern_international_and_followed_by_a_dash(text: str, expected: str) -> None:
    match = EMAIL_PATTERN.search(f"write to {text} please")
    assert (match[0] if match else None) == expected


class ScriptedStreams:
    """Streams each script in turn: its text chunks, then a final chunk with its tool calls."""

    name = "scripted"

    def __init__(self, *scripts: tuple[list[str], tuple[ToolCall, ...]]) -> None:
        self.scripts = list(scripts)
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise NotImplementedError

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        self.requests.append(request)
        texts, calls = self.scripts.pop(0)
        for text in texts:
            yield StreamChunk(text=text)
        yield StreamChunk(finish_reason="stop", model="m", tool_calls=calls)


async def test_stream_placeholder_issued_by_a_tool_is_unmasked_when_split() -> None:
    async def lookup() -> str:
        """Look carol up."""
        return CAROL

    provider = ScriptedStreams(
        (["Looking [", "up]. "], (ToolCall(id="c1", name="lookup"),)),
        (["It is [EM", "AIL_", "1] ok"], ()),
    )
    client = Aether(provider, middleware=[PIIRedactionMiddleware()], with_retry=False)
    texts = [
        chunk.text async for chunk in client.stream("Who is carol?", tools=[lookup]) if chunk.text
    ]
    assert provider.requests[1].messages[-1].content == "[EMAIL_1]"
    assert texts == ["Looking [", "up]. ", "It is ", f"{CAROL} ok"]


PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)
THOUGHT = ReasoningPart(text="Reply to [EMAIL_1].", signature="c2lnbmVk", provider="anthropic")
PARTS_ANSWER = LLMResponse(
    text=ANSWER, model="m", parts=(THOUGHT, TextPart(text=ANSWER)), finish_reason="stop"
)


async def test_text_parts_are_masked_and_media_parts_pass_as_they_are() -> None:
    fake = FakeProvider(responses=[PARTS_ANSWER])
    await client_for(fake).ask([f"Card of {EMAIL}:", ImagePart(data=PNG)])
    assert fake.last_request.messages[-1].content == (
        TextPart(text="Card of [EMAIL_1]:"),
        ImagePart(data=PNG),
    )


async def test_text_parts_of_the_answer_are_unmasked_and_reasoning_never() -> None:
    response = await client_for(FakeProvider(responses=[PARTS_ANSWER])).complete(PROMPT)
    assert response.text == UNMASKED
    assert response.parts == (THOUGHT, TextPart(text=UNMASKED))
    assert response.reasoning == "Reply to [EMAIL_1]."


async def test_a_stream_passes_reasoning_on_and_unmasks_the_final_parts() -> None:
    client = client_for(FakeProvider(responses=[PARTS_ANSWER]))
    chunks = [chunk async for chunk in client.stream(PROMPT)]
    reasoning = "".join(chunk.reasoning for chunk in chunks if chunk.kind == "reasoning")
    assert reasoning == "Reply to [EMAIL_1]."
    assert "".join(chunk.text for chunk in chunks) == UNMASKED
    assert chunks[-1].parts == (THOUGHT, TextPart(text=UNMASKED))


async def test_a_tool_result_with_parts_has_its_text_masked() -> None:
    async def card() -> list[object]:
        return [f"Owner: {EMAIL}", ImagePart(data=PNG)]

    fake = FakeProvider(
        responses=[
            LLMResponse(text="", model="m", tool_calls=[ToolCall(id="c1", name="card")]),
            "Done.",
        ]
    )
    await Aether(fake, middleware=[PIIRedactionMiddleware()]).ask("Whose card?", tools=[card])
    assert fake.last_request.messages[-1].content == (
        TextPart(text="Owner: [EMAIL_1]"),
        ImagePart(data=PNG),
    )
