"""The Responses API adapter reading answers: typed stream events, failures inside a 200,
incomplete answers, built-in tool items, refusals, usage and its price, media sent."""

from __future__ import annotations

import traceback
from contextlib import aclosing
from typing import Any

import pytest

from aether import Aether
from aether.errors import (
    BadRequestError,
    ContentFilterError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from aether.extensions.llm.openai_responses import OpenAIResponsesProvider
from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    ProviderPart,
    ReasoningPart,
    StreamChunk,
    TextPart,
    Tool,
)

from ._responses_support import (
    CITED,
    ENCRYPTED,
    KEY,
    WEB_SEARCH,
    RawServer,
    message,
    reasoning,
    response,
    stream_of,
    summary_delta,
    text_delta,
    usage,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

HI = LLMRequest(messages=(Message(role="user", content="hi"),))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
PDF = b"%PDF-1.7\n% test\n"


async def _stream(provider: OpenAIResponsesProvider, request: LLMRequest = HI) -> list[StreamChunk]:
    async with aclosing(provider.stream(request)) as chunks:
        return [chunk async for chunk in chunks]


async def _failing(
    provider: OpenAIResponsesProvider, stream: bool
) -> tuple[ProviderError, list[str]]:
    texts: list[str] = []
    with pytest.raises(ProviderError) as raised:
        if stream:
            async with aclosing(provider.stream(HI)) as chunks:
                async for chunk in chunks:
                    texts.append(chunk.text)
        else:
            await provider.complete(HI)
    return raised.value, texts


async def test_a_stream_gives_reasoning_then_text_and_the_whole_answer_last() -> None:
    final = response(
        reasoning("Need the sum.", "Say it."), message("42."), used=usage(reasoning=12)
    )
    added = {  # encrypted content "may be incomplete" here: the done item has it all
        "type": "response.output_item.added",
        "output_index": 0,
        "item": reasoning(encrypted=None),
    }
    server = RawServer(
        stream_of(
            final,
            added,
            summary_delta("Need "),
            summary_delta("the sum."),
            summary_delta("Say it.", summary_index=1),
            text_delta("42", 1),
            text_delta(".", 1),
        )
    )
    provider = server.provider()
    chunks = await _stream(provider)
    assert [(chunk.kind, chunk.reasoning or chunk.text) for chunk in chunks[:-1]] == [
        ("reasoning", "Need "),
        ("reasoning", "the sum."),
        ("reasoning", "\n\nSay it."),
        ("text", "42"),
        ("text", "."),
    ]
    last = chunks[-1]
    thought = ReasoningPart(
        text="Need the sum.\n\nSay it.",
        signature=ENCRYPTED,
        provider="openai-responses",
        id="rs_001",
    )
    assert (last.parts, last.finish_reason, last.response_id) == (
        (thought, TextPart(text="42.")),
        "stop",
        "resp_001",
    )
    assert last.parts[0].text == "".join(chunk.reasoning for chunk in chunks[:-1])  # type: ignore[union-attr]
    assert (last.tokens.output, last.tokens.reasoning) == (10, 12)  # type: ignore[union-attr]
    await provider.aclose()


async def test_items_finished_in_the_stream_stand_in_for_an_empty_final_output() -> None:
    final = response(message("ok"))
    events = stream_of(final, text_delta("ok"))
    events[-1] = {"type": "response.completed", "response": {**final, "output": []}}
    server = RawServer(events)
    provider = server.provider()
    assert (await _stream(provider))[-1].parts == ()
    assert server.bodies  # the request went out
    await provider.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_incomplete_at_max_output_tokens_keeps_the_text_with_finish_length(
    stream: bool,
) -> None:
    final = response(message("The story beg"), status="incomplete", reason="max_output_tokens")
    server = RawServer(stream_of(final, text_delta("The story beg")) if stream else final)
    provider = server.provider()
    if stream:
        chunks = await _stream(provider)
        text, finish = chunks[0].text, chunks[-1].finish_reason
    else:
        answer = await provider.complete(HI)
        text, finish = answer.text, answer.finish_reason
    assert (text, finish) == ("The story beg", "length")
    await provider.aclose()


@pytest.mark.parametrize(
    ("code", "error_type", "retryable"),
    [
        ("server_error", ServerError, True),
        ("rate_limit_exceeded", RateLimitError, True),
        ("invalid_prompt", BadRequestError, False),
        ("invalid_image_format", BadRequestError, False),
        ("bio_policy", ContentFilterError, False),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_failed_response_is_classified_by_its_code(
    code: str, error_type: type[ProviderError], retryable: bool, stream: bool
) -> None:
    failed = {
        **response(status="failed"),
        "error": {"code": code, "message": f"It failed ({KEY})."},
    }
    answer: Any = failed
    if stream:
        answer = [
            {"type": "response.created", "response": {**failed, "status": "in_progress"}},
            text_delta("Hel"),
            {"type": "response.failed", "response": failed},
        ]
    provider = RawServer(answer).provider()
    error, texts = await _failing(provider, stream)
    assert (type(error), error.retryable, texts) == (
        error_type,
        retryable,
        ["Hel"] if stream else [],
    )
    assert "It failed" in str(error)
    assert KEY not in "".join(traceback.format_exception(error))
    await provider.aclose()


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        ({"code": "server_error", "message": "Overloaded"}, ServerError),
        ({"code": "rate_limit_exceeded", "message": "Slow down"}, RateLimitError),
        ({"error": {"type": "invalid_request_error", "message": "Bad input"}}, BadRequestError),
    ],
)
async def test_an_error_event_inside_a_200_stream_raises_before_any_final_chunk(
    error: dict[str, Any], error_type: type[ProviderError]
) -> None:
    events = [
        {"type": "response.created", "response": response()},
        {"type": "error", "param": None, **error},
    ]
    provider = RawServer(events).provider()
    raised, texts = await _failing(provider, stream=True)
    assert (type(raised), texts) == (error_type, [])
    await provider.aclose()


async def test_a_stream_cut_before_its_terminal_event_is_malformed() -> None:
    events = [{"type": "response.created", "response": response()}, text_delta("partial")]
    provider = RawServer(events).provider()
    error, texts = await _failing(provider, stream=True)
    assert (type(error), texts) == (MalformedResponseError, ["partial"])
    await provider.aclose()


async def test_a_done_line_from_a_compatible_server_ends_the_stream() -> None:
    final = response(message("ok"))

    class DoneServer(RawServer):
        def __call__(self, request: Any) -> Any:
            answer = super().__call__(request)
            answer.stream.frames.append(b"data: [DONE]\n\n")
            return answer

    server = DoneServer(stream_of(final, text_delta("ok")))
    provider = server.provider()
    chunks = await _stream(provider)
    assert [chunk.text for chunk in chunks] == ["ok", ""]
    await provider.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_built_in_tool_items_are_provider_parts_and_go_back_verbatim(stream: bool) -> None:
    final = response(WEB_SEARCH, CITED)
    first: Any = (
        stream_of(final, text_delta("Aether is the upper air [1].", 1)) if stream else final
    )
    server = RawServer(first, response(message("Yes.")))
    provider = server.provider()
    if stream:
        last = (await _stream(provider))[-1]
        answer = LLMResponse(
            text="Aether is the upper air [1].",
            model="m",
            parts=last.parts,
            tool_calls=last.tool_calls,
        )
    else:
        answer = await provider.complete(HI)
    searched = ProviderPart(provider="openai-responses", kind="web_search_call", data=WEB_SEARCH)
    assert (answer.parts, answer.tool_calls) == (
        (searched, TextPart(text="Aether is the upper air [1].")),
        (),
    )
    follow_up = Message(role="user", content="Sure?")
    await provider.complete(LLMRequest(messages=(HI.messages[0], answer.message, follow_up)))
    assert server.last["input"] == [
        {"role": "user", "content": "hi"},
        WEB_SEARCH,
        {"role": "assistant", "content": "Aether is the upper air [1]."},
        {"role": "user", "content": "Sure?"},
    ]
    await provider.aclose()


async def test_the_tool_loop_runs_no_tool_for_a_built_in_call() -> None:
    ran: list[object] = []

    async def lookup(arguments: dict[str, object]) -> str:
        ran.append(arguments)
        return "never"

    tool = Tool(name="web_search_call", parameters={"type": "object"}, handler=lookup)
    server = RawServer(response(WEB_SEARCH, CITED))
    async with Aether(server.provider()) as client:
        answer = await client.complete("What is aether?", tools=[tool])
    assert (answer.text, ran, len(server.bodies)) == ("Aether is the upper air [1].", [], 1)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_refusal_is_the_text_with_finish_content_filter(stream: bool) -> None:
    refused = {
        **message(""),
        "content": [{"type": "refusal", "refusal": "I can't help with that."}],
    }
    final = response(refused)
    delta = {
        "type": "response.refusal.delta",
        "item_id": "msg_001",
        "output_index": 0,
        "content_index": 0,
        "delta": "I can't help with that.",
    }
    provider = RawServer(stream_of(final, delta) if stream else final).provider()
    if stream:
        chunks = await _stream(provider)
        result = (chunks[0].text, chunks[-1].finish_reason)
    else:
        answer = await provider.complete(HI)
        result = (answer.text, answer.finish_reason)
    assert result == ("I can't help with that.", "content_filter")
    await provider.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_cached_and_reasoning_tokens_are_priced_as_billed(stream: bool) -> None:
    from genai_prices import Usage as LibraryUsage
    from genai_prices import calc_price

    used = usage(5000, 800, cached=4096, reasoning=600)
    final = response(message("ok"), model="o4-mini", used=used)
    server = RawServer(stream_of(final, text_delta("ok")) if stream else final)
    async with Aether(server.provider(default_model="o4-mini")) as client:
        if stream:
            cost = [chunk async for chunk in client.stream("hi")][-1].cost_usd
        else:
            cost = (await client.complete("hi")).cost_usd
        totals = client.usage
    library = LibraryUsage(input_tokens=5000, cache_read_tokens=4096, output_tokens=800)
    expected = float(calc_price(library, "o4-mini", provider_id="openai").total_price)
    assert cost == pytest.approx(expected)
    assert (totals.total_cached_input_tokens, totals.by_model["o4-mini"].reasoning_tokens) == (
        4096,
        600,
    )


@pytest.mark.parametrize(
    "body",
    [[{"type": "response.completed"}], {"id": "resp_1", "status": "completed"}],
    ids=["completed-without-response", "body-without-output"],
)
async def test_an_answer_without_its_response_is_malformed(body: Any) -> None:
    provider = RawServer(body).provider()
    error, _ = await _failing(provider, stream=isinstance(body, list))
    assert isinstance(error, MalformedResponseError)
    await provider.aclose()


async def test_media_parts_become_input_images_and_files() -> None:
    server = RawServer(response(message("ok")), response(message("ok")))
    provider = server.provider()
    parts = (
        "Compare:",
        ImagePart(data=PNG),
        ImagePart(url="https://example.com/cat.png", detail="low"),
        DocumentPart(data=PDF, name="report.pdf"),
        DocumentPart(data=PDF),
        DocumentPart(url="https://example.com/paper.pdf"),
        DocumentPart(data=b"plain notes", media_type="text/plain"),
    )
    await provider.complete(LLMRequest(messages=(Message(role="user", content=parts),)))
    pdf_url = "data:application/pdf;base64,JVBERi0xLjcKJSB0ZXN0Cg=="
    assert server.last["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Compare:"},
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64," + ImagePart(data=PNG).base64(),
                },
                {
                    "type": "input_image",
                    "image_url": "https://example.com/cat.png",
                    "detail": "low",
                },
                {"type": "input_file", "file_data": pdf_url, "filename": "report.pdf"},
                {"type": "input_file", "file_data": pdf_url, "filename": "document.pdf"},
                {"type": "input_file", "file_url": "https://example.com/paper.pdf"},
                {"type": "input_text", "text": "plain notes"},
            ],
        }
    ]
    chart = Message(role="tool", content=("The chart:", ImagePart(data=PNG)), tool_call_id="c1")
    await provider.complete(LLMRequest(messages=(Message(role="user", content="Chart?"), chart)))
    assert server.last["input"][1] == {
        "type": "function_call_output",
        "call_id": "c1",
        "output": [
            {"type": "input_text", "text": "The chart:"},
            {
                "type": "input_image",
                "image_url": "data:image/png;base64," + ImagePart(data=PNG).base64(),
            },
        ],
    }
    await provider.aclose()


@pytest.mark.parametrize(
    ("part", "says"),
    [
        (AudioPart(data=b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16)), "takes no audio input"),
        (DocumentPart(data=b"\x00\x00\x00\x18ftypisom" + bytes(12)), "send video to gemini"),
    ],
)
async def test_media_the_wire_cannot_take_fails_before_sending(part: Any, says: str) -> None:
    server = RawServer(response(message("ok")))
    provider = server.provider()
    with pytest.raises(BadRequestError, match=says):
        await provider.complete(
            LLMRequest(messages=(Message(role="user", content=("Hear:", part)),))
        )
    assert server.bodies == []
    await provider.aclose()
