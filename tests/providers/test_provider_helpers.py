"""The helpers every adapter shares: Retry-After, tool arguments, SSE, options, redaction."""

from __future__ import annotations

import email.utils

import pytest

from aether.errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from aether.extensions.llm._errors import event_error, redact, status_error
from aether.extensions.llm._http import parse_duration, retry_after_seconds
from aether.extensions.llm._requests import merge_options
from aether.extensions.llm._sse import SSEParser
from aether.extensions.llm._tool_calls import ToolCallAssembler, arguments_json, parse_arguments
from aether.llm.contracts import ToolCall

NOW = 1_700_000_000.0


def test_retry_after_reads_seconds() -> None:
    assert retry_after_seconds({"Retry-After": "12"}) == 12.0


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "12"}) == 0.25


def test_retry_after_reads_an_http_date_relative_to_now() -> None:
    when = email.utils.formatdate(NOW + 42, usegmt=True)
    assert retry_after_seconds({"retry-after": when}, now=NOW) == 42.0


def test_retry_after_in_the_past_is_zero() -> None:
    when = email.utils.formatdate(NOW - 42, usegmt=True)
    assert retry_after_seconds({"retry-after": when}, now=NOW) == 0.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"retry-after": "soon"}, {"retry-after": "-3"}, {"retry-after": "nan"}, None],
)
def test_retry_after_ignores_what_it_cannot_read(headers: dict[str, str] | None) -> None:
    assert retry_after_seconds(headers) is None


def test_bad_retry_after_ms_falls_back_to_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "x", "retry-after": "3"}) == 3.0


def test_parse_duration_reads_protobuf_durations() -> None:
    assert [parse_duration(value) for value in ("37s", "0.5s", "5", None)] == [
        37.0,
        0.5,
        None,
        None,
    ]


def test_parse_arguments_decodes_a_json_object() -> None:
    assert parse_arguments('{"a": 1}') == ({"a": 1}, None)


@pytest.mark.parametrize("text", ['{"a": 1', "[1, 2]", "42", "not json"])
def test_parse_arguments_keeps_text_that_is_not_an_object(text: str) -> None:
    assert parse_arguments(text) == ({}, text)


@pytest.mark.parametrize("text", ["", "  ", None])
def test_parse_arguments_treats_empty_text_as_no_arguments(text: str | None) -> None:
    assert parse_arguments(text) == ({}, None)


def test_arguments_json_sends_raw_text_back_unchanged() -> None:
    call = ToolCall(id="c", name="add", raw_arguments='{"a": 1')
    assert arguments_json(call) == '{"a": 1'


def test_arguments_json_encodes_parsed_arguments_compactly() -> None:
    call = ToolCall(id="c", name="add", arguments={"a": 1, "b": "é"})
    assert arguments_json(call) == '{"a":1,"b":"é"}'


def test_assembler_joins_fragments_per_index_in_start_order() -> None:
    assembler = ToolCallAssembler()
    assembler.add(1, call_id="c2", name="weather", arguments='{"city"')
    assembler.add(0, call_id="c1", name="add", arguments='{"a": ')
    assembler.add(1, arguments=': "Oslo"}')
    assembler.add(0, arguments="2}")
    assert assembler.calls() == (
        ToolCall(id="c2", name="weather", arguments={"city": "Oslo"}),
        ToolCall(id="c1", name="add", arguments={"a": 2}),
    )


def test_assembler_continues_the_last_call_when_a_fragment_has_no_index() -> None:
    assembler = ToolCallAssembler()
    assembler.add(None, call_id="c1", name="add", arguments='{"a"')
    assembler.add(None, arguments=": 5}")
    assert assembler.calls() == (ToolCall(id="c1", name="add", arguments={"a": 5}),)


def test_assembler_starts_a_new_call_when_an_unindexed_fragment_brings_a_new_id() -> None:
    assembler = ToolCallAssembler()
    assembler.add(None, call_id="c1", name="add", arguments='{"a": 1}')
    assembler.add(None, call_id="c2", name="add", arguments='{"a": ')
    assembler.add(None, arguments="3}")
    assert assembler.calls() == (
        ToolCall(id="c1", name="add", arguments={"a": 1}),
        ToolCall(id="c2", name="add", arguments={"a": 3}),
    )


def test_assembler_takes_arguments_that_arrive_decoded_and_ignores_odd_types() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id=7, name=["add"], arguments={"a": 1, "b": 2})
    assert assembler.calls() == (ToolCall(id="call_0", name="", arguments={"a": 1, "b": 2}),)


def test_parse_arguments_survives_json_nested_deeper_than_python_goes() -> None:
    text = "[" * 100_000 + "]" * 100_000
    assert parse_arguments(text) == ({}, text)


@pytest.mark.parametrize(
    "raw",
    [{"id": "c1", "type": "function"}, {"id": "c1", "function": {"arguments": "{}"}}, "junk"],
    ids=["no_function", "no_name", "not_an_object"],
)
def test_openai_calls_without_a_name_go_back_to_the_model(raw: object) -> None:
    from aether.extensions.llm._openai_wire import parse_completion

    data = {"model": "m", "choices": [{"message": {"tool_calls": [raw]}}]}
    response = parse_completion(data, provider="openai", fallback_model="m")
    assert [call.name for call in response.tool_calls] == [""]


def test_anthropic_tool_use_without_id_or_name_goes_back_to_the_model() -> None:
    from aether.extensions.llm._anthropic_wire import parse_message

    data = {"model": "m", "content": [{"type": "tool_use", "input": {"a": 1}}]}
    response = parse_message(data, provider="anthropic", fallback_model="m")
    assert response.tool_calls == (ToolCall(id="toolu_0", name="", arguments={"a": 1}),)


def test_assembler_uses_whole_arguments_when_no_fragment_came() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id="c1", name="now")
    assembler.set_arguments(0, {})
    assert assembler.calls() == (ToolCall(id="c1", name="now", arguments={}),)


def test_assembler_invents_ids_for_calls_without_one() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, name="now")
    assembler.add(1, name="now")
    assert [call.id for call in assembler.calls(id_prefix="x")] == ["x_0", "x_1"]


SSE_SAMPLE = (
    b"event: a\r\ndata: 1\r\n\r\n: a comment\ndata: x\ndata: y\n\n"
    b'data: z\r\rdata:nospace\n\nevent: b\nid: 7\ndata: {"k": 1}\n\ndata: tail'
)
SSE_EVENTS = [
    ("a", "1"),
    (None, "x\ny"),
    (None, "z"),
    (None, "nospace"),
    ("b", '{"k": 1}'),
    (None, "tail"),
]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, len(SSE_SAMPLE)])
def test_sse_parser_gives_the_same_events_however_the_bytes_are_split(size: int) -> None:
    parser = SSEParser()
    events = []
    for start in range(0, len(SSE_SAMPLE), size):
        events += parser.feed(SSE_SAMPLE[start : start + size])
    events += parser.flush()
    assert [(event.event, event.data) for event in events] == SSE_EVENTS


def test_sse_parser_rejects_bytes_that_are_not_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        SSEParser().feed(b"data: \xff\xfe\n\n")


def test_merge_options_merges_nested_dicts_and_replaces_scalars() -> None:
    base = {"stream_options": {"include_usage": True}, "temperature": 0.7}
    merged = merge_options(base, {"stream_options": {"extra": 1}, "temperature": 0.1})
    assert merged == {"stream_options": {"include_usage": True, "extra": 1}, "temperature": 0.1}
    assert base == {"stream_options": {"include_usage": True}, "temperature": 0.7}


def test_redact_scrubs_every_secret() -> None:
    assert redact("key sk-abcdef and sk-abcdef", ["sk-abcdef", None]) == "key *** and ***"


def _status(status: int, code: str | None = None) -> ProviderError:
    return status_error(
        provider="p",
        status=status,
        detail="d",
        headers={"retry-after": "2"},
        secrets=(),
        key_env="P_KEY",
        code=code,
    )


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, None, RateLimitError),
        (401, None, AuthenticationError),
        (403, None, AuthenticationError),
        (404, None, BadRequestError),
        (408, None, RequestTimeoutError),
        (400, None, BadRequestError),
        (500, None, ServerError),
        (503, None, ServerError),
        (400, "content_filter", ContentFilterError),
        (400, "content_policy_violation", ContentFilterError),
        (422, None, BadRequestError),
        (529, None, ServerError),
    ],
)
def test_status_error_picks_the_class(status: int, code: str | None, expected: type) -> None:
    error = _status(status, code)
    assert type(error) is expected
    assert error.retryable is (status in (408, 429) or status >= 500)


def test_status_error_message_names_the_key_variable_for_401() -> None:
    assert "P_KEY" in str(_status(401))


def test_status_error_reads_retry_after_from_headers() -> None:
    error = _status(503)
    assert getattr(error, "retry_after", None) == 2.0


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("overloaded_error", ServerError),
        (None, ServerError),
        ("rate_limit_error", RateLimitError),
        ("RESOURCE_EXHAUSTED", RateLimitError),
        ("invalid_request_error", BadRequestError),
        ("authentication_error", AuthenticationError),
    ],
)
def test_event_error_picks_the_class(error_type: str | None, expected: type) -> None:
    error = event_error(provider="p", error_type=error_type, detail="d", secrets=(), key_env="K")
    assert type(error) is expected
